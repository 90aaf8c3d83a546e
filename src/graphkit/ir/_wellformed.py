"""Is every value in the graph defined exactly once, before it is read, with no cycle?

Runs on the ModelProto before onnx-ir sees it, because onnx-ir accepts a node that reads an
undefined name (it invents a dangling value) and a cyclic graph, and then fails far from the
cause. One linear pass over the nodes of each graph, plus a topological sort only when some
node reads a value that a later node writes.

The answer for a model that is fine but whose nodes are out of order is `needs_sort=True`;
the loader sorts it after deserializing, as ONNX Runtime would.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import onnx

from graphkit.errors import InputError
from graphkit.ir._tensors import check_declared_type


@dataclass
class WellFormed:
    """What the walk learned on the way, so that later checks need not walk the nodes again."""

    needs_sort: bool = False
    graphs: list[onnx.GraphProto] = field(default_factory=list)  # main graph and subgraphs
    tensor_attributes: list[onnx.AttributeProto] = field(default_factory=list)
    # where each of `graphs` and `tensor_attributes` is, for messages
    graph_wheres: list[str] = field(default_factory=list)
    attribute_wheres: list[str] = field(default_factory=list)

    def tensors(self) -> Iterator[onnx.TensorProto]:
        """Every TensorProto in the model: initializers, sparse parts, attribute tensors."""
        for _, tensor, _ in self.labelled_tensors():
            yield tensor

    def labelled_tensors(
        self, mapped: Collection[int] = ()
    ) -> Iterator[tuple[str, onnx.TensorProto, bool]]:
        """(where, tensor, data_elsewhere) for every tensor; data_elsewhere marks the main
        graph's initializers at the `mapped` indices, whose data the proto no longer holds."""
        for graph, where in zip(self.graphs, self.graph_wheres, strict=True):
            for index, tensor in enumerate(graph.initializer):
                elsewhere = graph is self.graphs[0] and index in mapped
                yield f"{where}: initializer {tensor.name!r}", tensor, elsewhere
            for sparse in graph.sparse_initializer:
                label = f"{where}: sparse initializer {sparse.values.name!r}"
                yield f"{label} values", sparse.values, False
                yield f"{label} indices", sparse.indices, False
        for attr, where in zip(self.tensor_attributes, self.attribute_wheres, strict=True):
            yield from _attribute_tensors(attr, where)


def _attribute_tensors(
    attr: onnx.AttributeProto, where: str
) -> Iterator[tuple[str, onnx.TensorProto, bool]]:
    if attr.HasField("t"):
        yield where, attr.t, False
    for index, tensor in enumerate(attr.tensors):
        yield f"{where} #{index}", tensor, False
    sparse_tensors = list(attr.sparse_tensors)
    if attr.HasField("sparse_tensor"):
        sparse_tensors.append(attr.sparse_tensor)
    for sparse in sparse_tensors:
        yield f"{where} values", sparse.values, False
        yield f"{where} indices", sparse.indices, False


@dataclass
class _Scope:
    """The names one graph defines, and what defines each (for messages)."""

    definers: dict[str, str] = field(default_factory=dict)
    producer_index: dict[str, int] = field(default_factory=dict)
    outer: tuple[Mapping[str, object], ...] = ()

    def visible(self, name: str) -> bool:
        return name in self.definers or any(name in scope for scope in self.outer)


def check_well_formed(proto: onnx.ModelProto, origin: str) -> WellFormed:
    """Raise InputError naming the node at fault; else say whether the nodes need sorting."""
    if not proto.HasField("graph"):
        raise InputError(f"{origin}: not an ONNX model (it has no graph)")
    result = WellFormed()
    _check_graph(proto.graph, (), origin, result, where="main graph")
    for function in proto.functions:
        where = f"function {function.domain + '.' if function.domain else ''}{function.name}"
        scope = _Scope()
        for name in function.input:
            _define(scope, name, "a function input", origin, where)
        _check_nodes(function.node, scope, origin, result, where)
    return result


def _check_graph(
    graph: onnx.GraphProto,
    outer: tuple[Mapping[str, object], ...],
    origin: str,
    result: WellFormed,
    where: str,
) -> set[str]:
    """Check one graph; return the names it reads from enclosing graphs."""
    result.graphs.append(graph)
    result.graph_wheres.append(f"{origin}: {where}")
    for kind, values in (("input", graph.input), ("output", graph.output),
                         ("value_info", graph.value_info)):
        for value in values:
            check_declared_type(value, f"{origin}: {where}: {kind}")
    scope = _Scope(outer=outer)
    for value in graph.input:
        _define(scope, value.name, "a graph input", origin, where)
    inputs = set(scope.definers)
    for index, tensor in enumerate(graph.initializer):
        if not tensor.name:
            raise InputError(f"{origin}: {where}: initializer #{index} has no name")
        if tensor.name in inputs:  # IR < 4 lists initializers among the inputs too
            continue
        _define(scope, tensor.name, "an initializer", origin, where)
    for sparse in graph.sparse_initializer:
        _define(scope, sparse.values.name, "a sparse initializer", origin, where)
    from_outer = _check_nodes(graph.node, scope, origin, result, where)
    for value in graph.output:
        if not scope.visible(value.name):
            raise InputError(
                f"{origin}: {where}: output {value.name!r} is not produced by any node, "
                "input or initializer"
            )
        if value.name not in scope.definers:
            from_outer.add(value.name)
    return from_outer


def _check_nodes(
    nodes: Iterable[onnx.NodeProto], scope: _Scope, origin: str, result: WellFormed, where: str
) -> set[str]:
    nodes = list(nodes)
    for index, node in enumerate(nodes):
        for name in node.output:
            if name:
                _define(scope, name, _describe(node, index), origin, where)
                scope.producer_index[name] = index
    from_outer: set[str] = set()
    unsorted = False
    all_reads = [
        _node_reads(node, index, scope, origin, result, where) for index, node in enumerate(nodes)
    ]
    for index, (node, reads) in enumerate(zip(nodes, all_reads, strict=True)):
        for name in reads:
            if not name:
                continue  # an omitted optional input
            if not scope.visible(name):
                raise InputError(
                    f"{origin}: {where}: {_describe(node, index)} reads {name!r}, which no "
                    "node, graph input or initializer defines"
                )
            producer = scope.producer_index.get(name)
            if producer is None and name not in scope.definers:
                from_outer.add(name)
            elif producer is not None and producer >= index:
                unsorted = True
    if unsorted:
        _find_cycle(nodes, all_reads, scope.producer_index, origin, where)
        result.needs_sort = True
    return from_outer


def _node_reads(
    node: onnx.NodeProto, index: int, scope: _Scope, origin: str, result: WellFormed, where: str
) -> list[str]:
    """The node's inputs plus the outer names its subgraphs read (implicit inputs)."""
    reads = list(node.input)
    for attr in node.attribute:
        kind = attr.type or _untyped_kind(attr)
        if kind in _TENSOR_ATTRIBUTES:
            result.tensor_attributes.append(attr)
            result.attribute_wheres.append(
                f"{origin}: {where}: {_describe(node, index)} attribute {attr.name!r}"
            )
        if kind not in _GRAPH_ATTRIBUTES:
            continue
        graphs = [attr.g] if attr.HasField("g") else []
        graphs.extend(attr.graphs)
        for sub in graphs:
            sub_where = f"{where} > {node.op_type} '{node.name}' attribute {attr.name!r}"
            outer = (scope.definers, *scope.outer)
            reads.extend(_check_graph(sub, outer, origin, result, sub_where))
    return reads


_A = onnx.AttributeProto
_GRAPH_ATTRIBUTES = frozenset({_A.GRAPH, _A.GRAPHS})
_TENSOR_ATTRIBUTES = frozenset({_A.TENSOR, _A.TENSORS, _A.SPARSE_TENSOR, _A.SPARSE_TENSORS})


def _untyped_kind(attr: onnx.AttributeProto) -> int:
    """Old exporters left `type` unset; tell graphs and tensors apart by the field that is set."""
    if attr.HasField("g") or attr.graphs:
        return _A.GRAPH
    if attr.HasField("t") or attr.tensors or attr.HasField("sparse_tensor"):
        return _A.TENSOR
    return _A.UNDEFINED


def _define(scope: _Scope, name: str, definer: str, origin: str, where: str) -> None:
    previous = scope.definers.get(name)
    if previous is not None:
        raise InputError(
            f"{origin}: {where}: {definer} writes {name!r}, which {previous} already defines "
            "(every value must have exactly one definition)"
        )
    scope.definers[name] = definer


def _describe(node: onnx.NodeProto, index: int) -> str:
    label = repr(node.name) if node.name else f"#{index}"
    return f"node {label} ({node.op_type})"


def _find_cycle(
    nodes: list[onnx.NodeProto],
    all_reads: list[list[str]],
    producers: Mapping[str, int],
    origin: str,
    where: str,
) -> None:
    """Kahn's algorithm; raise naming the nodes of one cycle if some node never becomes ready."""
    deps = [{producers[name] for name in reads if name in producers} for reads in all_reads]
    users: list[list[int]] = [[] for _ in nodes]
    for index, node_deps in enumerate(deps):
        for dep in node_deps:
            users[dep].append(index)
    waiting = [len(node_deps) for node_deps in deps]
    ready = [index for index, count in enumerate(waiting) if count == 0]
    while ready:
        for user in users[ready.pop()]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    stuck = {index for index, count in enumerate(waiting) if count > 0}
    if not stuck:
        return
    cycle = _walk_cycle(stuck, deps)
    path = " -> ".join(_describe(nodes[index], index) for index in cycle)
    raise InputError(f"{origin}: {where} has a cycle: {path}")


def _walk_cycle(stuck: set[int], deps: list[set[int]]) -> list[int]:
    """Follow stuck predecessors from any stuck node until one repeats."""
    seen: dict[int, int] = {}
    order: list[int] = []
    current = min(stuck)
    while current not in seen:
        seen[current] = len(order)
        order.append(current)
        current = min(dep for dep in deps[current] if dep in stuck)
    cycle = order[seen[current] :]
    cycle.reverse()  # producer before consumer reads naturally
    start = cycle.index(min(cycle))
    cycle = cycle[start:] + cycle[:start]
    return [*cycle, cycle[0]]
