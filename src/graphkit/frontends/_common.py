"""Checks and fix-ups that every framework frontend shares.

Options are checked before any framework work starts, so that a typo costs a
clear one-line error instead of a minute of export. After export, the graph is
checked for ops the exporter left unconverted: tf2onnx keeps going past an op it
cannot translate and leaves it in the graph under its TensorFlow name, which
would otherwise surface much later as an unloadable model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import onnx
import onnx_ir as ir

from graphkit.errors import InputError


def check_option_names(options: Mapping[str, Any], accepted: Iterable[str], what: str) -> None:
    accepted = sorted(accepted)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(
            f"option {unknown[0]!r} does not apply to {what} (accepted: {', '.join(accepted)})"
        )


def check_opset(opset: Any) -> int | None:
    """None (the exporter's default) or an opset this onnx package knows."""
    if opset is None:
        return None
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not 7 <= opset <= newest:
        raise InputError(f"option 'opset' must be an integer from 7 to {newest}, got {opset!r}")
    return opset


def check_names(names: Any, option: str, count: int | None = None) -> tuple[str, ...] | None:
    """None, or a sequence of distinct non-empty strings (exactly `count` when given)."""
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InputError(f"option {option!r} must be a list of names, got {type(names).__name__}")
    names = tuple(names)
    if not all(isinstance(name, str) and name for name in names):
        raise InputError(f"option {option!r} must hold non-empty strings, got {list(names)}")
    if len(set(names)) != len(names):
        raise InputError(f"option {option!r} names an entry twice: {list(names)}")
    if count is not None and len(names) != count:
        raise InputError(f"option {option!r} gives {len(names)} name(s) for {count} value(s)")
    return names


def default_names(prefix: str, count: int) -> list[str]:
    return [prefix] if count == 1 else [f"{prefix}_{i}" for i in range(count)]


def rename_outputs(model: ir.Model, names: Sequence[str]) -> None:
    """Give the graph outputs the names the user will see, where that is safe.

    An output that is also a graph input, or listed twice, keeps its name: renaming
    it would rename the input too. So does one whose new name is taken elsewhere.
    """
    graph = model.graph
    taken = {v.name for v in graph.inputs} | set(graph.initializers)
    taken |= {out.name for node in graph for out in node.outputs}
    inputs = set(map(id, graph.inputs))
    for value, name in zip(graph.outputs, names, strict=False):
        if value.name == name:
            continue
        shared = id(value) in inputs or sum(v is value for v in graph.outputs) > 1
        if shared or name in taken:
            continue
        taken.discard(value.name)
        value.name = name
        taken.add(name)


def check_fully_converted(model: ir.Model, source: str, converter: str) -> None:
    """Refuse a model in which the converter left ops that ONNX does not define."""
    left = [
        node
        for node in ir.traversal.RecursiveGraphIterator(model.graph)
        if node.domain in {"", "ai.onnx"} and not onnx.defs.has(node.op_type)
    ]
    if not left:
        return
    kinds = sorted({node.op_type for node in left})
    raise InputError(
        f"{source}: {converter} could not convert {len(left)} node(s) of op(s) "
        f"{', '.join(kinds)} (first: node '{left[0].name}')"
    )
