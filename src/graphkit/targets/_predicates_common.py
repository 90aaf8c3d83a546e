"""What the predicates share: attribute values with their schema defaults, inputs the node
gives, and the labels their reasons use."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.targets.base import NodeContext

Args = dict[str, Any]
Predicate = Callable[[ir.Node, NodeContext, Args], "str | None"]


@functools.lru_cache(maxsize=4096)
def schema_default(op: str, domain: str, version: int, attr: str) -> Any:
    """The schema's default for an attribute the node leaves unset (None if there is none)."""
    try:
        schema = onnx.defs.get_schema(op, version, domain)
    except onnx.defs.SchemaError:
        return None
    found = schema.attributes.get(attr)
    if found is None or not found.default_value.name:
        return None
    value = onnx.helper.get_attribute_value(found.default_value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return tuple(v.decode() if isinstance(v, bytes) else v for v in value)
    return value


def attr_value(node: ir.Node, name: str, ctx: NodeContext) -> Any:
    attr = node.attributes.get(name)
    if attr is not None:
        value = attr.value
        return tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else value
    version = ctx.domain_version(node.domain) or ctx.opset
    return schema_default(node.op_type, node.domain, version, name)


def matches_when(node: ir.Node, ctx: NodeContext, when: dict[str, Any]) -> bool:
    return all(attr_value(node, name, ctx) == value for name, value in when.items())


def node_input(node: ir.Node, index: int) -> ir.Value | None:
    """Input `index` if the node gives it (an empty name means 'not given')."""
    if index >= len(node.inputs):
        return None
    value = node.inputs[index]
    return value if value is not None and value.name != "" else None


def _label(node: ir.Node, index: int) -> str:
    value = node_input(node, index)
    return f"input {index} ('{value.name}')" if value is not None else f"input {index}"


def _shown(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _elements(shape: tuple[Any, ...] | None) -> int | None:
    """How many elements a shape holds (None while any dimension is unknown)."""
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64))
