"""Build a torch.fx GraphModule from an onnx-ir graph through the lowering table.

Values map to fx nodes; initializers and Constant tensors become buffers named after
the ONNX value; If/Loop/Scan bodies become submodules (see _control.py) whose outer
values are passed in explicitly, so scripting sees real control flow.
"""

from __future__ import annotations

import keyword
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx_ir as ir
import torch
import torch.fx as fx

from graphkit.backends.torchscript import lowering
from graphkit.backends.torchscript._dtypes import to_torch
from graphkit.errors import InputError

_NAME_CHARS = re.compile(r"[^0-9a-zA-Z_]")


def legible(name: str, fallback: str) -> str:
    """A Python identifier close to the ONNX name ('conv1.weight' -> 'conv1_weight')."""
    text = _NAME_CHARS.sub("_", name or "").strip("_") or fallback
    if text[0].isdigit() or keyword.iskeyword(text):
        return f"v_{text}"
    return text


class FxBuilder:
    """Lowers one graph (the main graph or a body) into an fx.Graph on a root module."""

    def __init__(
        self, root: torch.nn.Module, opset: int, parent: FxBuilder | None = None
    ) -> None:
        self.root = root
        self.opset = opset
        self.parent = parent
        self.graph = fx.Graph()
        self.values: dict[ir.Value, fx.Node] = {}
        self.captured: list[ir.Value] = []  # outer values a body reads, in order of first use
        self._packed: fx.Node | None = None  # a body's single List[Tensor] input
        self._n_formal = 0
        self._names: set[str] = set()
        # fx node name -> the ONNX value it computes (`graphkit compare` reads the artifact's
        # intermediate values back by these names)
        self.sources: dict[str, str] = {}

    # --- inputs -----------------------------------------------------------------------

    def add_inputs(self, inputs: Sequence[ir.Value]) -> None:
        """Main graph: one positional argument per input, typed from the ONNX type."""
        for value in inputs:
            node = self.graph.placeholder(self._unique(legible(value.name, "input")))
            node.type = _annotation(value)
            self.values[value] = node

    def add_packed_inputs(self, inputs: Sequence[ir.Value]) -> None:
        """Body graph: all inputs (formal, then captured) arrive as one List[Tensor]."""
        self._packed = self.graph.placeholder("inputs", type_expr=list[torch.Tensor])
        self._packed.type = list[torch.Tensor]
        for index, value in enumerate(inputs):
            self.values[value] = self.graph.call_function(operator.getitem, (self._packed, index))
        self._n_formal = len(inputs)

    def add_initializers(self, graph: ir.Graph) -> None:
        for value in graph.initializers.values():
            if value in self.values or value.const_value is None:
                continue
            self.values[value] = self.const(value.const_value.numpy(), value.name)

    # --- EmitContext ------------------------------------------------------------------

    def inputs(self, node: ir.Node, count: int | None = None) -> list[Any]:
        args = [self.lookup(v) if v is not None and v.name != "" else None for v in node.inputs]
        if count is not None:
            args += [None] * (count - len(args))
        return args

    def call(self, fn: Callable[..., Any], args: Sequence[Any], outputs: int = 1) -> list[Any]:
        result = self.graph.call_function(fn, tuple(args))
        if outputs == 1:
            return [result]
        return [self.graph.call_function(operator.getitem, (result, i)) for i in range(outputs)]

    def const(self, array: np.ndarray, hint: str) -> fx.Node:
        name = self._unique(legible(hint, "const"))
        self.root.register_buffer(name, to_torch(np.asarray(array)))
        return self.graph.get_attr(name)

    def module(self, hint: str, module: torch.nn.Module, args: Sequence[Any], outputs: int):
        name = self._unique(legible(hint, "body"))
        self.root.add_module(name, module)
        result = self.graph.call_module(name, tuple(args))
        return [self.graph.call_function(operator.getitem, (result, i)) for i in range(outputs)]

    def subgraph(self, graph: ir.Graph, hint: str) -> tuple[torch.nn.Module, list[Any]]:
        """A body as its own GraphModule taking List[Tensor]; returns it and the outer values."""
        child_root = torch.nn.Module()
        child = FxBuilder(child_root, self.opset, parent=self)
        child.add_packed_inputs(list(graph.inputs))
        child.add_initializers(graph)
        child.lower_nodes(graph)
        child.graph.output([child.lookup(v) for v in graph.outputs])
        module = fx.GraphModule(child_root, child.graph, class_name=legible(hint, "Body"))
        return module, [self.lookup(v) for v in child.captured]

    # --- lowering ---------------------------------------------------------------------

    def lookup(self, value: ir.Value) -> fx.Node:
        if value in self.values:
            return self.values[value]
        if value.const_value is not None and value.is_initializer():
            node = self.const(value.const_value.numpy(), value.name)
            self.values[value] = node
            return node
        if self.parent is None or self._packed is None:
            raise InputError(f"value '{value.name}' is used before any node produces it")
        # An outer value read by a body: it becomes one more entry of the packed input.
        index = self._n_formal + len(self.captured)
        self.captured.append(value)
        node = self.graph.call_function(operator.getitem, (self._packed, index))
        self.values[value] = node
        return node

    def lower_nodes(self, graph: ir.Graph) -> None:
        for node in graph:
            entry = lowering.entry_for(node, self.opset)
            reason = lowering.unsupported_reason(node, self.opset)
            if reason is not None or entry is None:
                raise InputError(f"node '{node.name or node.op_type}' ({node.op_type}): {reason}")
            results = entry.emit(self, node)
            for value, result in zip(node.outputs, results):
                if value is not None and value.name != "":
                    self.values[value] = result
                    if isinstance(result, fx.Node):
                        self.sources.setdefault(result.name, value.name)

    def _unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._names or hasattr(self.root, candidate):
            candidate, n = f"{name}_{n}", n + 1
        self._names.add(candidate)
        return candidate


def _annotation(value: ir.Value) -> Any:
    kind = value.type
    if isinstance(kind, ir.SequenceType):
        return list[torch.Tensor]
    if isinstance(kind, ir.OptionalType):
        inner = kind.elem_type
        return (list[torch.Tensor] | None) if isinstance(inner, ir.SequenceType) else (
            torch.Tensor | None
        )
    return torch.Tensor


def build_graph_module(model: ir.Model, sources: dict[str, str] | None = None
                       ) -> tuple[fx.GraphModule, list[str], list[str]]:
    """The model as a GraphModule, with its input and output names in order. `sources`, when
    given, receives the main graph's fx node names and the ONNX values they compute."""
    opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1))
    root = torch.nn.Module()
    builder = FxBuilder(root, opset)
    graph = model.graph
    inputs = [v for v in graph.inputs if v.name not in graph.initializers]
    builder.add_inputs(inputs)
    builder.add_initializers(graph)
    builder.lower_nodes(graph)
    builder.graph.output(tuple(builder.lookup(v) for v in graph.outputs))
    if sources is not None:
        sources.update(builder.sources)
    module = fx.GraphModule(root, builder.graph, class_name="OnnxModel")
    return module, [v.name for v in inputs], [v.name for v in graph.outputs]
