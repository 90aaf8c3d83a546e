"""Attention (opset 23+) and RotaryEmbedding, from the ONNX operator definitions."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor


def _heads(x: Tensor, heads: int) -> Tensor:
    """[batch, seq, heads * size] -> [batch, heads, seq, size]."""
    return x.reshape([x.shape[0], x.shape[1], heads, -1]).transpose(1, 2)


def _allowed_bias(allowed: Tensor, dtype: torch.dtype) -> Tensor:
    zero = torch.zeros([], dtype=dtype)
    return torch.where(allowed, zero, torch.full([], float("-inf"), dtype=dtype))


def _mask_bias(mask: Tensor, kv_len: int, dtype: torch.dtype) -> Tensor:
    pad = kv_len - mask.shape[-1]
    if mask.dtype == torch.bool:
        if pad > 0:
            mask = torch.constant_pad_nd(mask, [0, pad], 0)
        return _allowed_bias(mask, dtype)
    if pad > 0:
        mask = torch.constant_pad_nd(mask, [0, pad], float("-inf"))
    return mask.to(dtype)


def _frontier(q_len: int, kv_len: int, offset: Tensor) -> Tensor:
    """key index minus (query index + offset): <= 0 where a causal query may look."""
    i = torch.arange(q_len).reshape([q_len, 1])
    j = torch.arange(kv_len).reshape([1, kv_len])
    if offset.dim() == 0:
        return j - (i + offset)
    return (j - (i + offset.reshape([-1, 1, 1]))).unsqueeze(1)


def _bias(
    q_len: int, kv_len: int, dtype: torch.dtype, mask: Optional[Tensor], is_causal: int,
    offset: Tensor, nonpad: Optional[Tensor], left: int, right: int,
) -> Tensor:
    bias = torch.zeros([q_len, kv_len], dtype=dtype)
    if mask is not None:
        bias = bias + _mask_bias(mask, kv_len, dtype)
    if is_causal == 1:
        bias = bias + _allowed_bias(_frontier(q_len, kv_len, offset) <= 0, dtype)
    if left >= 0 or right >= 0:
        diff = -_frontier(q_len, kv_len, offset)  # (query position) - (key index)
        allowed = torch.ones(diff.shape, dtype=torch.bool)
        if left >= 0:
            allowed = allowed & (diff <= left)
        if right >= 0:
            allowed = allowed & (-diff <= right)
        bias = bias + _allowed_bias(allowed, dtype)
    if nonpad is not None:
        keep = torch.arange(kv_len).reshape([1, kv_len]) < nonpad.reshape([-1, 1])
        bias = bias + _allowed_bias(keep, dtype).reshape([-1, 1, 1, kv_len])
    return bias


def _softmax_masked(scores: Tensor, bias: Tensor) -> Tensor:
    top = torch.amax(scores, -1, True)
    top = torch.where(torch.isneginf(top), torch.zeros_like(top), top)
    weights = torch.exp(scores - top)
    total = torch.sum(weights, -1, True)
    weights = weights / torch.where(total == 0, torch.ones_like(total), total)
    # Rows the bias masks completely give zeros, not NaN.
    dead = torch.isneginf(torch.amax(bias, -1, True))
    return torch.where(dead, torch.zeros_like(weights), weights)


def attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor], past_key: Optional[Tensor],
    past_value: Optional[Tensor], nonpad: Optional[Tensor], scale: Optional[float],
    is_causal: int, q_heads: int, kv_heads: int, softcap: float, mode: int, left: int,
    right: int, precision: Optional[torch.dtype],
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    three_d = q.dim() == 3
    if three_d:
        q, k, v = _heads(q, q_heads), _heads(k, kv_heads), _heads(v, kv_heads)
    factor = scale if scale is not None else 1.0 / math.sqrt(q.shape[3])
    root = math.sqrt(factor)
    if past_key is not None:
        k = torch.cat([past_key, k], 2)
    if past_value is not None:
        v = torch.cat([past_value, v], 2)
    present_key, present_value = k, v
    q_len, kv_len = q.shape[2], k.shape[2]
    past = past_key.shape[2] if past_key is not None else 0
    offset = torch.tensor(past)
    if past_key is None and nonpad is not None:
        offset = nonpad.to(torch.int64).reshape(-1) - q_len
    bias = _bias(q_len, kv_len, q.dtype, mask, is_causal, offset, nonpad, left, right)
    if q.shape[1] != k.shape[1]:
        # Grouped-query attention: each key/value head serves several query heads.
        k = k.repeat_interleave(q.shape[1] // k.shape[1], 1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], 1)
    scores = torch.matmul(q * root, k.transpose(2, 3) * root)
    if softcap > 0:
        scores = torch.tanh(scores / softcap) * softcap
    qk = scores
    with_bias = scores + bias
    if mode == 2:
        qk = with_bias
    if precision is not None:
        with_bias = with_bias.to(precision)
    weights = _softmax_masked(with_bias, bias)
    if mode == 3:
        qk = weights
    out = torch.matmul(weights.to(q.dtype), v)
    if three_d:
        out = out.transpose(1, 2).reshape([out.shape[0], out.shape[2], -1])
    return out, present_key, present_value, qk.to(q.dtype)


def rotary_embedding(
    x: Tensor, cos: Tensor, sin: Tensor, positions: Optional[Tensor], interleaved: int,
    heads: int, rotary_dim: int,
) -> Tensor:
    original = x.shape
    if x.dim() == 3:
        x = x.reshape([x.shape[0], x.shape[1], heads, -1]).transpose(1, 2)
    # x: [batch, heads, seq, size]; cos/sin: [batch, seq, half] or [max_pos, half].
    if positions is not None:
        cos, sin = cos[positions], sin[positions]
    size = x.shape[-1]
    dim = rotary_dim if rotary_dim > 0 else size
    rotate, keep = x[..., :dim], x[..., dim:]
    half = dim // 2
    cos = cos[..., :half].unsqueeze(1)
    sin = sin[..., :half].unsqueeze(1)
    if interleaved == 1:
        a, b = rotate[..., 0::2], rotate[..., 1::2]
    else:
        a, b = rotate[..., :half], rotate[..., half:]
    ra = a * cos - b * sin
    rb = b * cos + a * sin
    if interleaved == 1:
        rotated = torch.stack([ra, rb], -1).reshape(rotate.shape)
    else:
        rotated = torch.cat([ra, rb], -1)
    out = torch.cat([rotated, keep], -1)
    if len(original) == 3:
        out = out.transpose(1, 2).reshape(original)
    return out


