"""Does a model-local function call itself, directly or through other functions?

ONNX functions are macros: a runtime inlines each call, so a recursive one never finishes
expanding (ONNX Runtime fails deep inside its loader; graphkit's inliner would not stop).
Refused at load, naming the functions of one cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import onnx

from graphkit.errors import InputError

FunctionId = tuple[str, str, str]  # domain, name, overload


def check_no_recursion(proto: onnx.ModelProto, origin: str) -> None:
    """Raise InputError naming a call cycle among the model's functions, if there is one."""
    local = {_identity(f): f for f in proto.functions}
    if not local:
        return
    calls = {
        key: [callee for callee in _callees(function.node) if callee in local]
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


def _callees(nodes: Iterable[onnx.NodeProto]) -> Iterator[FunctionId]:
    """What the nodes call, subgraphs included (a call inside an If branch is still a call)."""
    for node in nodes:
        yield node.domain, node.op_type, node.overload
        for attr in node.attribute:
            graphs = [attr.g] if attr.HasField("g") else []
            graphs.extend(attr.graphs)
            for graph in graphs:
                yield from _callees(graph.node)


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
