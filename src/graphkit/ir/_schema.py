"""The ONNX schema of a standard op at an opset, looked up once (validation and loading ask
for the same few schemas for every node)."""

from __future__ import annotations

import functools

import onnx


@functools.cache
def onnx_schema(op_type: str, opset: int) -> onnx.defs.OpSchema | None:
    """The ai.onnx op's schema in force at `opset`; None for an op onnx does not define there."""
    try:
        return onnx.defs.get_schema(op_type, opset, "")
    except onnx.defs.SchemaError:
        return None


def type_conflict(node, opset: int, dtype_of) -> str | None:
    """Where the ai.onnx node's values that one type parameter of its schema binds (Mul's
    A, B and C all 'T') have different known element types, which; None where they agree
    or are unknown. `dtype_of(value)` gives a value's element type or None."""
    schema = onnx_schema(node.op_type, opset) if node.domain in ("", "ai.onnx") else None
    if schema is None:
        return None
    params = {c.type_param_str for c in schema.type_constraints}
    seen: dict[str, tuple[str, object]] = {}
    for formals, actuals in ((schema.inputs, node.inputs), (schema.outputs, node.outputs)):
        for index, value in enumerate(actuals):
            if value is None or not formals:
                continue
            formal = formals[min(index, len(formals) - 1)]
            variadic = formal.option == onnx.defs.OpSchema.FormalParameterOption.Variadic
            if index >= len(formals) and not variadic:
                continue
            if formal.type_str not in params or (variadic and not formal.is_homogeneous):
                continue
            dtype = dtype_of(value)
            if dtype is None:
                continue
            first = seen.setdefault(formal.type_str, (value.name, dtype))
            if first[1] != dtype:
                return (f"'{first[0]}' is {first[1].name.lower()} and '{value.name}' is "
                        f"{dtype.name.lower()}, but {node.op_type}'s schema gives both one "
                        f"type ({formal.type_str})")
    return None
