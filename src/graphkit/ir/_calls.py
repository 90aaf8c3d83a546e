"""Are the calls of model-local functions ones a runtime can inline?

ONNX functions are macros: a runtime inlines each call, so a recursive one never finishes
expanding (ONNX Runtime fails deep inside its loader; graphkit's inliner would not stop), and
a call with more inputs or outputs than the function declares has nothing to bind them to.
Both are refused at load, naming the functions of one cycle or the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import onnx

from graphkit.errors import InputError

FunctionId = tuple[str, str, str]  # domain, name, overload


def check_calls(proto: onnx.ModelProto, origin: str) -> None:
    """Raise InputError naming a call cycle among the model's functions, or a call that
    passes more inputs or outputs than its function declares."""
    local = {_identity(f): f for f in proto.functions}
    if not local:
        return
    _check_arity(proto, local, origin)
    calls = {
        key: [_call_id(node) for node in _all_nodes(function.node) if _call_id(node) in local]
        for key, function in local.items()
    }
    cycle = _find_cycle(calls)
    if cycle:
        path = " -> ".join(_label(key) for key in cycle)
        raise InputError(
            f"{origin}: function {_label(cycle[0])} calls itself ({path}); ONNX functions are "
            "inlined, so a recursive one can never run"
        )


def _identity(function: onnx.FunctionProto) -> FunctionId:
    return function.domain, function.name, function.overload


def _label(key: FunctionId) -> str:
    domain, name, overload = key
    text = f"{domain}.{name}" if domain else name
    return f"'{text}:{overload}'" if overload else f"'{text}'"


def _call_id(node: onnx.NodeProto) -> FunctionId:
    return node.domain, node.op_type, node.overload


def _all_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.NodeProto]:
    """The nodes and those of their subgraphs (a call inside an If branch is still a call)."""
    for node in nodes:
        yield node
        for attr in node.attribute:
            graphs = [attr.g] if attr.HasField("g") else []
            graphs.extend(attr.graphs)
            for graph in graphs:
                yield from _all_nodes(graph.node)


def _check_arity(
    proto: onnx.ModelProto, local: dict[FunctionId, onnx.FunctionProto], origin: str
) -> None:
    callers = [proto.graph.node, *(function.node for function in proto.functions)]
    for nodes in callers:
        for node in _all_nodes(nodes):
            function = local.get(_call_id(node))
            if function is None:
                continue
            for kind, given, declared in (("inputs", node.input, function.input),
                                          ("outputs", node.output, function.output)):
                if len(given) > len(declared):
                    raise InputError(
                        f"{origin}: node {node.name or node.op_type!r} calls function "
                        f"{_label(_call_id(node))} with {len(given)} {kind}; it declares "
                        f"{len(declared)}"
                    )


def _find_cycle(calls: dict[FunctionId, list[FunctionId]]) -> list[FunctionId] | None:
    """One call cycle, first function repeated at the end; None if the calls form a DAG.

    Depth-first, without recursion (a long call chain must not hit Python's stack limit)."""
    done: set[FunctionId] = set()
    for root in calls:
        if root in done:
            continue
        path: list[FunctionId] = [root]
        pending = [iter(calls[root])]
        while pending:
            callee = next(pending[-1], None)
            if callee is None:
                done.add(path.pop())
                pending.pop()
            elif callee in path:
                return [*path[path.index(callee):], callee]
            elif callee not in done:
                path.append(callee)
                pending.append(iter(calls[callee]))
    return None
