"""Passes written for other tools, run under graphkit's pass manager and its proof.

Users of TensorRT tooling have edits written against onnx-graphsurgeon; `GraphSurgeonPass(fn)`
lets such an edit run inside graphkit's PassManager, which then proves it numerically like
any other rewrite (and rolls it back if the outputs change). Above the pass manager, so
graphkit.ir (which the pass manager imports) keeps only the model <-> graphsurgeon converters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import onnx_ir as ir

from graphkit.ir._graphsurgeon import graphsurgeon_module, to_graphsurgeon
from graphkit.ir._load import model_from_proto
from graphkit.passmanager import Pass, PassContext, PassKind, PassResult, count_nodes


@dataclass(frozen=True)
class GraphSurgeonPass(Pass):
    """fn(gs.Graph) -> None edits the graph in place; the model takes the edited graph.

    Not in the pass registry: it needs a Python callable, which a pipeline string cannot name.
    """

    name: ClassVar[str] = "graphsurgeon"
    kind: ClassVar[PassKind] = "rewrite"
    fn: Callable[[Any], None]

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        gs = graphsurgeon_module()
        graph = to_graphsurgeon(model)
        before = gs.export_onnx(graph, do_type_check=False).graph
        self.fn(graph)
        after_proto = gs.export_onnx(graph, do_type_check=False)
        if after_proto.graph == before:
            return PassResult()
        label = getattr(self.fn, "__name__", "graphsurgeon script")
        nodes_before = count_nodes(model)
        edited = model_from_proto(after_proto, origin=f"graphsurgeon script {label!r}")
        _adopt(model, edited)
        return PassResult(modified=True,
                          changes=[f"{label}: {nodes_before} -> {count_nodes(model)} nodes"])


def _adopt(model: ir.Model, edited: ir.Model) -> None:
    """Give `model` the edited graph and functions in place; keep its model-level metadata."""
    model.graph = edited.graph
    model.functions.clear()
    model.functions.update(edited.functions)
