"""ai.onnx.ml ops that are comparisons and gathers:

    Binarizer(x)                 -> SELECT_V2(x > threshold, 1, 0)
    ArrayFeatureExtractor(x, i)  -> GATHER(x, flat i, last axis)   ([1, k] for a 1-D x, as
                                    onnxruntime and onnx's reference give)
    LabelEncoder(x), numeric keys and values
                                 -> y = default; per key k: y = SELECT_V2(x == k, v, y)
                                    (a NaN key matches NaN: x != x)

String tensors have no TFLite builtin that maps them (LiteRT's hash tables are custom ops),
so a LabelEncoder of strings is refused.
"""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    entry,
    rank,
)

ML_DOMAIN = "ai.onnx.ml"
MAX_KEYS = 256  # each key is an EQUAL and a SELECT_V2
BINARIZED = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})
EXTRACTED = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})
ENCODED = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64,
                     ir.DataType.STRING})
_NUMPY = {"floats": np.float32, "int64s": np.int64}


def emit_binarizer(ctx: EmitContext, node: ir.Node) -> None:
    x = node.inputs[0]
    dtype = ctx.dtype(x)
    threshold = attr(node, "threshold", 0.0)
    # an integer x is above t exactly when it is above floor(t)
    bound = np.asarray(threshold if dtype == np.float32 else math.floor(threshold), dtype)
    above = ctx.temp(f"{x.name}_above", np.bool_, ctx.shape_or_none(x))
    ctx.op("GREATER", [ctx.input(x), ctx.const(bound)], [above])
    ctx.op("SELECT_V2", [above, ctx.const(np.ones((), dtype)), ctx.const(np.zeros((), dtype))],
           [ctx.output(node.outputs[0])])


def check_extractor(node: ir.Node, values) -> str | None:
    if rank(values, node.inputs[0]) in (None, 0):
        return "ArrayFeatureExtractor needs an input of known rank, 1 or more"
    if values.dtype(node.inputs[1]) not in (None, ir.DataType.INT64):
        return "ArrayFeatureExtractor's indices must be int64"
    return None


def emit_extractor(ctx: EmitContext, node: ir.Node) -> None:
    x, indices = node.inputs
    flat = ctx.temp(f"{indices.name}_flat", ctx.dtype(indices), None)
    ctx.op("RESHAPE", [ctx.input(indices), ctx.int32([-1])], [flat])
    rank_ = ctx.rank(x)
    out = ctx.output(node.outputs[0])
    gathered = out if rank_ > 1 else ctx.temp("extracted", ctx.dtype(x), None)
    ctx.op("GATHER", [ctx.input(x), flat], [gathered], options("GatherOptions", axis=rank_ - 1))
    if rank_ == 1:
        ctx.op("RESHAPE", [gathered, ctx.int32([1, -1])], [out])


def _mapping(node: ir.Node) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """(keys, values, default) as arrays, or why the node's mapping is not lowered."""
    keys = values = default = None
    for kind, dtype in _NUMPY.items():
        if attr(node, f"keys_{kind}") is not None:
            keys = np.asarray(attr(node, f"keys_{kind}"), dtype)
        if attr(node, f"values_{kind}") is not None:
            values = np.asarray(attr(node, f"values_{kind}"), dtype)
            default = np.asarray(attr(node, f"default_{kind[:-1]}",
                                      -1 if kind == "int64s" else -0.0), dtype)
    for name in ("keys_tensor", "values_tensor", "default_tensor"):
        held = attr(node, name)
        if held is not None:
            array = held.numpy() if hasattr(held, "numpy") else np.asarray(held)
            if name == "keys_tensor":
                keys = array
            elif name == "values_tensor":
                values = array
            else:
                default = array.reshape(())
    if any(a is None or a.dtype.kind in "OSU" for a in (keys, values)) or \
            attr(node, "keys_strings") is not None or attr(node, "values_strings") is not None:
        return "LabelEncoder of strings: TFLite has no builtin that maps string tensors"
    if default is None:
        default = np.zeros((), values.dtype)
    return keys, values, default


def check_label_encoder(node: ir.Node, values) -> str | None:
    found = _mapping(node)
    if isinstance(found, str):
        return found
    keys, mapped, _ = found
    if len(keys) == 0 or len(keys) != len(mapped):
        return "LabelEncoder needs keys, and as many values as keys"
    if len(keys) > MAX_KEYS:
        return f"LabelEncoder with {len(keys)} keys; graphkit lowers at most {MAX_KEYS}"
    if mapped.dtype not in (np.float32, np.int64, np.int32):
        return f"LabelEncoder's {mapped.dtype} values have no TFLite builtin that selects them"
    if values.dtype(node.inputs[0]) not in (None, ir.DataType.from_numpy(keys.dtype)):
        return "LabelEncoder's input and keys must be of one type"
    return None


def emit_label_encoder(ctx: EmitContext, node: ir.Node) -> None:
    keys, mapped, default = _mapping(node)
    x = node.inputs[0]
    shape = ctx.shape_or_none(x)
    result = ctx.const(default)  # SELECT_V2 broadcasts it to x's shape
    for index, key in enumerate(keys):
        hit = ctx.temp("key_hit", np.bool_, shape)
        if isinstance(key, np.floating) and np.isnan(key):
            ctx.op("NOT_EQUAL", [ctx.input(x), ctx.input(x)], [hit])
        else:
            ctx.op("EQUAL", [ctx.input(x), ctx.const(np.asarray(key))], [hit])
        last = index == len(keys) - 1
        out = ctx.output(node.outputs[0]) if last else ctx.temp("encoded", mapped.dtype, shape)
        ctx.op("SELECT_V2", [hit, ctx.const(np.asarray(mapped[index])), result], [out])
        result = out


def entries() -> dict[str, list[Lowering]]:
    return {
        "Binarizer": [entry(("GREATER", "SELECT_V2"), emit_binarizer, dtypes=BINARIZED)],
        "ArrayFeatureExtractor": [entry(("RESHAPE", "GATHER"), emit_extractor,
                                        dtypes=EXTRACTED, check=check_extractor)],
        "LabelEncoder": [entry(("EQUAL", "NOT_EQUAL", "SELECT_V2"),
                               emit_label_encoder, dtypes=ENCODED,
                               check=check_label_encoder, since=2)],
    }
