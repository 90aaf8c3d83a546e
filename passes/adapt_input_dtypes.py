"""input x: T -> input x: U, Cast(x, to=T) behind it (a uint8 image feeds a float graph as is).

Options: `inputs`, the graph inputs to adapt (default: every floating-point input);
`dtype`, the dtype the data arrives in (default uint8). The graph computes exactly what
it did for every value the new dtype holds (for uint8: the integers 0..255), and nothing
else can reach it any more. So the proof needs inputs of that kind: the pass names them in
input_domains, and the generated inputs for those come from the new dtype (given inputs
must be of that kind already: a real image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.findings import Finding, Severity
from graphkit.passes._graph_edit import cast_after_input
from graphkit.passmanager import Pass, PassContext, PassResult

FLOATING = frozenset({ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.BFLOAT16,
                      ir.DataType.DOUBLE})
DTYPES = {"uint8": ir.DataType.UINT8, "int8": ir.DataType.INT8, "uint16": ir.DataType.UINT16,
          "int16": ir.DataType.INT16, "float16": ir.DataType.FLOAT16, "float32": ir.DataType.FLOAT}


@dataclass(frozen=True)
class AdaptInputDtypes(Pass):
    name = "adapt-input-dtypes"
    kind = "rewrite"
    inputs: tuple[str, ...] = ()
    dtype: str = "uint8"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise InputError(f"adapt-input-dtypes: dtype '{self.dtype}' is not one of "
                             f"{', '.join(DTYPES)}")

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        graph = model.graph
        to = DTYPES[self.dtype]
        result = PassResult()
        for value in self._chosen(graph):
            why = _why_not(value, to)
            if why == "":
                continue  # already takes that dtype
            if why:
                result.findings.append(Finding("GK505", Severity.WARNING,
                                               f"adapt-input-dtypes: input '{value.name}' {why}",
                                               node=value.name))
                continue
            was = value.dtype
            assert was is not None
            cast_after_input(graph, value, was)
            value.dtype = to
            result.modified = True
            result.changes.append(f"input '{value.name}' takes {self.dtype} now, cast to "
                                  f"{was.name.lower()} on entry")
        return result

    def input_domains(self, model: ir.Model) -> dict[str, np.dtype]:
        """The inputs this rewrite will adapt: the proof feeds them values of the new dtype."""
        to = DTYPES[self.dtype]
        return {value.name: np.dtype(to.numpy()) for value in self._chosen(model.graph)
                if _why_not(value, to) is None}

    def _chosen(self, graph: ir.Graph) -> list[ir.Value]:
        inputs = [v for v in graph.inputs if not v.is_initializer()]
        if not self.inputs:
            return [v for v in inputs if v.dtype in FLOATING]
        by_name = {v.name: v for v in inputs}
        missing = [name for name in self.inputs if name not in by_name]
        if missing:
            raise InputError(f"adapt-input-dtypes: the model has no input {missing[0]!r} "
                             f"(inputs: {', '.join(by_name) or 'none'})")
        return [by_name[name] for name in self.inputs]


def _why_not(value: ir.Value, to: ir.DataType) -> str | None:
    """Why this input is left as it is ("" when it has the dtype already), or None to adapt it."""
    if value.dtype == to:
        return ""
    if value.dtype not in FLOATING:
        return f"is {value.dtype.name.lower() if value.dtype else 'untyped'}, not floating point"
    if value.is_graph_output():
        return "is also a graph output, whose dtype must not change"
    return None
