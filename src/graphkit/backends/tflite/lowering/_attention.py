"""RotaryEmbedding and LinearAttention written with builtins (Attention and FlexAttention
are lowered as onnx's function bodies, lowering/_function.py).

RotaryEmbedding:  x1, x2 = the halves (or the even and odd lanes) of x[..., :rotary_dim]
                  y = [cos * x1 - sin * x2, sin * x1 + cos * x2, x[..., rotary_dim:]]
LinearAttention:  the recurrence unrolled over the (static) sequence, one step per token:
                  S = exp(g_t) * S                      (gated rules)
                  v_t = beta_t * (v_t - k_t^T S)          (delta rules)
                  S = S + k_t v_t^T;  o_t = scale * q_t^T S
                  a query head reads the state of its K/V head: q_t as [B, H_kv, group, d_k].
Both compute in float32 in the order onnx's reference does (float16 widened, _widen.py).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    MAX_STEPS,
    EmitContext,
    Lowering,
    attr,
    entry,
    first,
    static_shape,
)

RULES = {"linear": (False, False), "gated": (True, False), "delta": (False, True),
         "gated_delta": (True, True)}  # update rule -> (decays, corrects by delta)
KIND = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}


def _given(node: ir.Node, index: int) -> ir.Value | None:
    return node.inputs[index] if index < len(node.inputs) else None


def _apply(ctx: EmitContext, builtin: str, inputs: list[int], shape: list[int],
           made=None) -> int:
    """A float32 temporary holding builtin(inputs)."""
    out = ctx.temp(builtin.lower(), np.float32, shape)
    kind = KIND.get(builtin)
    ctx.op(builtin, inputs, [out], made or (options(kind) if kind else None))
    return out


def _reshape(ctx: EmitContext, tensor: int, shape: list[int]) -> int:
    return _apply(ctx, "RESHAPE", [tensor, ctx.int32(shape)], shape)


def _split(ctx: EmitContext, tensor: int, axis: int, parts: int, shape: list[int]) -> list[int]:
    """`parts` equal slices of `tensor` along `axis`, each of `shape`."""
    if parts == 1:
        return [tensor]
    outs = [ctx.temp("part", np.float32, shape) for _ in range(parts)]
    ctx.op("SPLIT", [ctx.int32(axis), tensor], outs, options("SplitOptions", numSplits=parts))
    return outs


def _concat(ctx: EmitContext, tensors: list[int], axis: int, shape: list[int],
            out: int | None = None) -> int:
    out = out if out is not None else ctx.temp("concat", np.float32, shape)
    ctx.op("CONCATENATION", tensors, [out], options("ConcatenationOptions", axis=axis))
    return out


def _same_float_type(node: ir.Node, values, indices: tuple[int, ...]) -> str | None:
    kinds = {values.dtype(v) or v.dtype for i in indices if (v := _given(node, i)) is not None}
    if len(kinds) > 1:
        return f"{node.op_type}: inputs of different float types are not lowered"
    return None


def _static(node: ir.Node, values) -> str | None:
    if any(v is not None and static_shape(values, v) is None for v in node.inputs):
        return f"{node.op_type} needs static input shapes"
    return None


# RotaryEmbedding ---------------------------------------------------------------------

def _rotary_dims(node: ir.Node, values) -> tuple[list[int], int, int] | str:
    """(x as [B, H, S, D] or [B, S, H, D], D, rotary dim), or why the node is not lowered."""
    shape = list(static_shape(values, node.inputs[0]))
    heads = attr(node, "num_heads", 0)
    if len(shape) == 3:
        if heads <= 0 or shape[2] % heads:
            return "RotaryEmbedding of a 3-D input needs num_heads dividing its hidden size"
        shape = [shape[0], shape[1], heads, shape[2] // heads]
    elif len(shape) != 4:
        return "RotaryEmbedding takes a 3-D or 4-D input"
    head = shape[3]
    rotary = attr(node, "rotary_embedding_dim", 0) or head
    if rotary > head or rotary % 2:
        return f"RotaryEmbedding: rotary_embedding_dim {rotary} must be even and at most {head}"
    return shape, head, rotary


def check_rotary(node: ir.Node, values) -> str | None:
    found = _static(node, values) or _same_float_type(node, values, (0, 1, 2))
    if found is not None:
        return found
    dims = _rotary_dims(node, values)
    if isinstance(dims, str):
        return dims
    shape, _, rotary = dims
    x_rank = len(static_shape(values, node.inputs[0]))
    batch, seq = (shape[0], shape[2]) if x_rank == 4 else (shape[0], shape[1])
    position = _given(node, 3)
    want = [rotary // 2] if position is not None else [batch, seq, rotary // 2]
    for cache in node.inputs[1:3]:
        got = list(static_shape(values, cache))
        if got[-len(want):] != want or (position is not None and len(got) != 2):
            return f"RotaryEmbedding: cache '{cache.name}' of shape {got} does not fit the input"
    if position is not None and list(static_shape(values, position)) != [batch, seq]:
        return "RotaryEmbedding: position_ids must be [batch, sequence]"
    return None


def emit_rotary(ctx: EmitContext, node: ir.Node) -> None:
    shape, head, rotary = _rotary_dims(node, ctx.values)
    four_d = ctx.rank(node.inputs[0]) == 4
    half = rotary // 2
    x = ctx.input(node.inputs[0])
    if not four_d:
        x = _reshape(ctx, x, shape)
    cache_shape = [shape[0], 1, shape[2], half] if four_d else [shape[0], shape[1], 1, half]
    cos, sin = (_cache(ctx, node, cache, cache_shape) for cache in node.inputs[1:3])
    lead = shape[:3]
    parts = _rotary_parts(ctx, x, lead, head, rotary)
    x1, x2 = _halves(ctx, parts[0], lead, half, bool(attr(node, "interleaved", 0)))
    side = [*lead, half]
    real = _apply(ctx, "SUB", [_apply(ctx, "MUL", [cos, x1], side),
                               _apply(ctx, "MUL", [sin, x2], side)], side)
    imag = _apply(ctx, "ADD", [_apply(ctx, "MUL", [sin, x1], side),
                               _apply(ctx, "MUL", [cos, x2], side)], side)
    rotated = _joined(ctx, real, imag, lead, half, bool(attr(node, "interleaved", 0)))
    out = ctx.output(node.outputs[0])
    whole = [*lead, head]
    if len(parts) == 1 and four_d:
        ctx.op("RESHAPE", [rotated, ctx.int32(whole)], [out])
        return
    result = _concat(ctx, [rotated, parts[1]], 3, whole) if len(parts) == 2 else rotated
    ctx.op("RESHAPE", [result, ctx.int32(ctx.shape(node.outputs[0]))], [out])


def _cache(ctx: EmitContext, node: ir.Node, cache: ir.Value, shape: list[int]) -> int:
    """cos or sin per token (gathered by position_ids where given), broadcast over heads."""
    position = _given(node, 3)
    table = ctx.input(cache)
    if position is not None:
        rows = ctx.shape(position)
        picked = _apply(ctx, "GATHER", [table, ctx.input(position)],
                        [*rows, shape[-1]], options("GatherOptions", axis=0))
        table = picked
    return _reshape(ctx, table, shape)


def _rotary_parts(ctx: EmitContext, x: int, lead: list[int], head: int,
                  rotary: int) -> list[int]:
    """[x[..., :rotary]] and, where rotary < head, x[..., rotary:]."""
    if rotary == head:
        return [x]
    outs = [ctx.temp("rotated", np.float32, [*lead, rotary]),
            ctx.temp("passed", np.float32, [*lead, head - rotary])]
    ctx.op("SPLIT_V", [x, ctx.int32([rotary, head - rotary]), ctx.int32(3)], outs,
           options("SplitVOptions", numSplits=2))
    return outs


def _halves(ctx: EmitContext, x: int, lead: list[int], half: int,
            interleaved: bool) -> tuple[int, int]:
    """(x1, x2): the two halves, or the even and the odd lanes, each [*lead, half]."""
    if not interleaved:
        first_half, second = _split(ctx, x, 3, 2, [*lead, half])
        return first_half, second
    rows = int(np.prod(lead))
    pairs = _reshape(ctx, x, [rows, half, 2])
    even, odd = _split(ctx, pairs, 2, 2, [rows, half, 1])
    return _reshape(ctx, even, [*lead, half]), _reshape(ctx, odd, [*lead, half])


def _joined(ctx: EmitContext, real: int, imag: int, lead: list[int], half: int,
            interleaved: bool) -> int:
    if not interleaved:
        return _concat(ctx, [real, imag], 3, [*lead, 2 * half])
    rows = int(np.prod(lead))
    pairs = [_reshape(ctx, t, [rows, half, 1]) for t in (real, imag)]
    return _reshape(ctx, _concat(ctx, pairs, 2, [rows, half, 2]), [*lead, 2 * half])


# LinearAttention ---------------------------------------------------------------------

def _linear_dims(node: ir.Node, values) -> dict[str, int] | str:
    """The sizes the recurrence runs on, or why the node is not lowered."""
    hq, hkv = attr(node, "q_num_heads", 0), attr(node, "kv_num_heads", 0)
    if hq <= 0 or hkv <= 0 or hq % hkv:
        return "LinearAttention needs q_num_heads a positive multiple of kv_num_heads"
    shapes = [list(static_shape(values, v)) for v in node.inputs[:3]]
    if any(len(s) != 3 for s in shapes):
        return "LinearAttention takes 3-D query, key and value"
    (b, t, q_width), (_, _, k_width), (_, _, v_width) = shapes
    if any(s[:2] != [b, t] for s in shapes) or q_width % hq or v_width % hkv \
            or k_width != hkv * (q_width // hq):
        return "LinearAttention: query, key and value shapes do not fit the head counts"
    return {"b": b, "t": t, "hq": hq, "hkv": hkv, "dk": q_width // hq, "dv": v_width // hkv}


def check_linear_attention(node: ir.Node, values) -> str | None:
    found = first(lambda: _static(node, values),
                  lambda: _same_float_type(node, values, (0, 1, 2, 3, 4, 5)))
    if found is not None:
        return found
    rule = attr(node, "update_rule", "gated_delta")
    if rule not in RULES:
        return f"LinearAttention: unknown update_rule '{rule}'"
    dims = _linear_dims(node, values)
    if isinstance(dims, str):
        return dims
    if dims["t"] > MAX_STEPS:
        return (f"LinearAttention over {dims['t']} tokens: graphkit unrolls it over at most "
                f"{MAX_STEPS}")
    decays, corrects = RULES[rule]
    decay, beta, past = _given(node, 4), _given(node, 5), _given(node, 3)
    if (decay is not None) != decays or (beta is not None) != corrects:
        return f"LinearAttention: update_rule '{rule}' does not fit the decay and beta given"
    b, t, hkv, dk, dv = (dims[key] for key in ("b", "t", "hkv", "dk", "dv"))
    if decay is not None and static_shape(values, decay) not in ((b, t, hkv), (b, t, hkv * dk)):
        return "LinearAttention: decay must be [B, T, kv_num_heads (* d_k)]"
    if beta is not None and static_shape(values, beta) not in ((b, t, hkv), (b, t, 1)):
        return "LinearAttention: beta must be [B, T, kv_num_heads or 1]"
    if past is not None and static_shape(values, past) != (b, hkv, dk, dv):
        return "LinearAttention: past_state must be [B, kv_num_heads, d_k, d_v]"
    return None


def emit_linear_attention(ctx: EmitContext, node: ir.Node) -> None:
    d = _linear_dims(node, ctx.values)
    b, t, hq, hkv, dk, dv = (d[key] for key in ("b", "t", "hq", "hkv", "dk", "dv"))
    group = hq // hkv
    scale = attr(node, "scale", 0.0) or 1.0 / np.sqrt(dk)
    queries = _steps(ctx, ctx.input(node.inputs[0]), [b, t, hq * dk], [b, hkv, group, dk])
    keys = _steps(ctx, ctx.input(node.inputs[1]), [b, t, hkv * dk], [b, hkv, dk, 1])
    values = _steps(ctx, ctx.input(node.inputs[2]), [b, t, hkv * dv], [b, hkv, 1, dv])
    gates = _gates(ctx, _given(node, 4), [b, t], hkv)
    rates = _rates(ctx, _given(node, 5), [b, t])
    past = _given(node, 3)
    state = ctx.input(past) if past is not None \
        else ctx.const(np.zeros((b, hkv, dk, dv), np.float32), "state")
    full = [b, hkv, dk, dv]
    rows = []
    for step in range(t):
        if gates:
            state = _apply(ctx, "MUL", [state, gates[step]], full)
        value = values[step]
        if rates:
            key_row = _reshape(ctx, keys[step], [b, hkv, 1, dk])
            read = _apply(ctx, "BATCH_MATMUL", [key_row, state], [b, hkv, 1, dv],
                          options("BatchMatMulOptions", adjX=False, adjY=False))
            value = _apply(ctx, "MUL", [rates[step], _apply(ctx, "SUB", [value, read],
                                                            [b, hkv, 1, dv])], [b, hkv, 1, dv])
        state = _apply(ctx, "ADD", [state, _apply(ctx, "MUL", [keys[step], value], full)], full)
        read = _apply(ctx, "BATCH_MATMUL", [queries[step], state], [b, hkv, group, dv],
                      options("BatchMatMulOptions", adjX=False, adjY=False))
        scaled = _apply(ctx, "MUL", [read, ctx.const(np.asarray(scale, np.float32))],
                        [b, hkv, group, dv])
        rows.append(_reshape(ctx, scaled, [b, 1, hq * dv]))
    out = ctx.output(node.outputs[0])
    if t == 1:
        ctx.op("RESHAPE", [rows[0], ctx.int32([b, 1, hq * dv])], [out])
    else:
        _concat(ctx, rows, 1, [b, t, hq * dv], out)
    if len(node.outputs) > 1 and node.outputs[1] is not None:
        ctx.op("RESHAPE", [state, ctx.int32(full)], [ctx.output(node.outputs[1])])


def _steps(ctx: EmitContext, tensor: int, shape: list[int], each: list[int]) -> list[int]:
    """A [B, T, X] tensor as T tensors of shape `each`, one per token."""
    b, t, width = shape
    return [_reshape(ctx, part, each) for part in _split(ctx, tensor, 1, t, [b, 1, width])]


def _gates(ctx: EmitContext, decay: ir.Value | None, lead: list[int], hkv: int) -> list[int]:
    """exp(decay) per token, as [B, H_kv, d_k or 1, 1]."""
    if decay is None:
        return []
    shape = list(ctx.shape(decay))
    grown = _apply(ctx, "EXP", [ctx.input(decay)], shape)
    return _steps(ctx, grown, shape, [lead[0], hkv, shape[2] // hkv, 1])


def _rates(ctx: EmitContext, beta: ir.Value | None, lead: list[int]) -> list[int]:
    """beta per token, as [B, H_kv or 1, 1, 1]."""
    if beta is None:
        return []
    shape = list(ctx.shape(beta))
    return _steps(ctx, ctx.input(beta), shape, [lead[0], shape[2], 1, 1])


def entries() -> dict[str, list[Lowering]]:
    return {
        "RotaryEmbedding": [entry(("RESHAPE", "GATHER", "SPLIT", "SPLIT_V", "MUL", "SUB", "ADD",
                                   "CONCATENATION"), emit_rotary, check=check_rotary,
                                  dtype_inputs=(0, 1, 2), since=23)],
        "LinearAttention": [entry(("RESHAPE", "SPLIT", "EXP", "MUL", "SUB", "ADD",
                                   "BATCH_MATMUL", "CONCATENATION"), emit_linear_attention,
                                  check=check_linear_attention, dtype_inputs=(0, 1, 2),
                                  since=27)],
    }
