"""Where a model keeps nodes: the main graph, the bodies of If/Loop/Scan (any depth) and
its functions. Rewrites that must reach every node walk `every_graph`, as diagnose does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import onnx_ir as ir

# The standard ops whose attributes hold graphs that run (bodies and branches).
CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def subgraphs(node: ir.Node) -> Iterator[ir.Graph]:
    """The graphs held in the node's attributes (If's branches, Loop's and Scan's body)."""
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.GRAPH:
            yield attr.value
        elif attr.type == ir.AttributeType.GRAPHS:
            yield from attr.value


class Scope(NamedTuple):
    """A graph of the model, the ai.onnx opset its nodes are read under, and whether it is a
    function's body (or inside one): a function holds no initializers, only Constant nodes."""

    graph: ir.Graph
    opset: int
    in_function: bool


def every_graph(model: ir.Model) -> list[Scope]:
    """The main graph, then every subgraph and every function's graph (theirs too), each once.

    A list, not a generator: a rewrite changes the graphs it is given, and the walk must not
    see the nodes it has just added."""
    opset = _onnx_opset(model.opset_imports, 1)
    roots = [Scope(model.graph, opset, False)] + [
        Scope(function.graph, _onnx_opset(function.opset_imports, opset), True)
        for function in model.functions.values()]
    found: list[Scope] = []
    for root in roots:
        found.append(root)
        for node in ir.traversal.RecursiveGraphIterator(root.graph):  # nested nodes too
            found.extend(root._replace(graph=graph) for graph in subgraphs(node))
    return found


def _onnx_opset(imports: dict[str, int], default: int) -> int:
    return imports.get("", imports.get("ai.onnx", default))
