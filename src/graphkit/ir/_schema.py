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
