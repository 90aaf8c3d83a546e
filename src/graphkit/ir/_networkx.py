"""model -> networkx.MultiDiGraph: one graph node per ONNX node, one edge per value it reads.

For graph algorithms onnx-ir does not offer (dominators, cycles, partitions). A value read
inside a subgraph counts as read by the node that owns the subgraph, which is the edge that
matters for ordering. Graph inputs, initializers and outputs are not nodes.
"""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

from graphkit.errors import MissingDependencyError


def to_networkx(model: ir.Model | ir.Graph) -> Any:
    """Nodes are indices in graph order with attributes op_type, name, node (the ir.Node);
    edges go producer -> consumer, keyed by the value's name (a value read twice is one edge)."""
    try:
        import networkx as nx
    except ImportError:
        raise MissingDependencyError("networkx", "all", "to_networkx") from None
    graph = model.graph if isinstance(model, ir.Model) else model
    nodes = list(graph)
    index = {id(node): position for position, node in enumerate(nodes)}
    result = nx.MultiDiGraph()
    for position, node in enumerate(nodes):
        result.add_node(position, op_type=node.op_type, name=node.name, node=node)
    for position, node in enumerate(nodes):
        for value in _reads(node):
            producer = value.producer()
            if producer is not None and id(producer) in index:
                result.add_edge(index[id(producer)], position, key=value.name)
    return result


def _reads(node: ir.Node) -> list[ir.Value]:
    """The node's inputs, plus outer values read by its subgraphs."""
    reads = [value for value in node.inputs if value is not None]
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.GRAPH:
            reads.extend(_outer_reads(attr.value))
        elif attr.type == ir.AttributeType.GRAPHS:
            for sub in attr.value:
                reads.extend(_outer_reads(sub))
    return reads


def _outer_reads(graph: ir.Graph) -> list[ir.Value]:
    reads = []
    for node in ir.traversal.RecursiveGraphIterator(graph):
        for value in node.inputs:
            if value is not None and value.graph is not graph and value.producer() is not None:
                reads.append(value)
    return reads
