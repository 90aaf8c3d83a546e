"""Matrix products, normalizations, dropout and (de)quantization."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor


def gemm(
    a: Tensor, b: Tensor, c: Optional[Tensor], alpha: float, beta: float, trans_a: int,
    trans_b: int,
) -> Tensor:
    a = a.t() if trans_a == 1 else a
    b = b.t() if trans_b == 1 else b
    out = torch.matmul(a, b)
    if alpha != 1.0:
        out = out * alpha
    if c is not None:
        out = out + (c * beta if beta != 1.0 else c)
    return out.to(a.dtype)


def einsum(equation: str, operands: List[Tensor]) -> Tensor:
    return torch.einsum(equation, operands)


def _channel_shape(x: Tensor, t: Tensor) -> Tensor:
    shape = [1] * x.dim()
    shape[1] = -1
    return t.reshape(shape)


def batch_norm(
    x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, var: Tensor, epsilon: float,
    momentum: float, training: int,
) -> Tuple[Tensor, Tensor, Tensor]:
    if training == 0:
        norm = (x - _channel_shape(x, mean)) / torch.sqrt(_channel_shape(x, var) + epsilon)
        return norm * _channel_shape(x, scale) + _channel_shape(x, bias), mean, var
    dims = [0] + list(range(2, x.dim()))
    batch_mean = torch.mean(x, dims)
    batch_var = torch.var(x, dims, unbiased=False)
    norm = (x - _channel_shape(x, batch_mean)) / torch.sqrt(_channel_shape(x, batch_var) + epsilon)
    out = norm * _channel_shape(x, scale) + _channel_shape(x, bias)
    running_mean = mean * momentum + batch_mean * (1 - momentum)
    running_var = var * momentum + batch_var * (1 - momentum)
    return out, running_mean, running_var


def instance_norm(x: Tensor, scale: Tensor, bias: Tensor, epsilon: float) -> Tensor:
    dims = list(range(2, x.dim()))
    mean = torch.mean(x, dims, True)
    var = torch.var(x, dims, unbiased=False, keepdim=True)
    norm = (x - mean) / torch.sqrt(var + epsilon)
    return norm * _channel_shape(x, scale) + _channel_shape(x, bias)


def layer_norm(
    x: Tensor, scale: Tensor, bias: Optional[Tensor], axis: int, epsilon: float
) -> Tuple[Tensor, Tensor, Tensor]:
    axis = axis + x.dim() if axis < 0 else axis
    dims = list(range(axis, x.dim()))
    wide = x.to(torch.float32) if x.dtype == torch.float16 else x
    mean = torch.mean(wide, dims, True)
    var = torch.mean((wide - mean) * (wide - mean), dims, True)
    inv_std = 1.0 / torch.sqrt(var + epsilon)
    out = ((wide - mean) * inv_std).to(x.dtype) * scale
    if bias is not None:
        out = out + bias
    return out, mean, inv_std


def layer_norm_native(
    x: Tensor, scale: Tensor, bias: Optional[Tensor], axis: int, epsilon: float
) -> Tensor:
    """torch.layer_norm where scale (and bias) have the normalized shape, which it requires;
    ONNX also lets them broadcast, and those go through layer_norm above."""
    axis = axis + x.dim() if axis < 0 else axis
    shape: List[int] = list(x.shape[axis:])
    if list(scale.shape) == shape and (bias is None or list(bias.shape) == shape):
        return torch.layer_norm(x, shape, scale, bias, epsilon)
    return layer_norm(x, scale, bias, axis, epsilon)[0]


def rms_norm(x: Tensor, scale: Tensor, axis: int, epsilon: float) -> Tensor:
    axis = axis + x.dim() if axis < 0 else axis
    dims = list(range(axis, x.dim()))
    wide = x.to(torch.float32) if x.dtype == torch.float16 else x
    rms = torch.sqrt(torch.mean(wide * wide, dims, True) + epsilon)
    return (wide / rms).to(x.dtype) * scale


def group_norm(
    x: Tensor, scale: Tensor, bias: Tensor, groups: int, epsilon: float
) -> Tensor:
    channels = x.shape[1]
    grouped = x.reshape([x.shape[0], groups, -1])
    mean = torch.mean(grouped, -1, True)
    var = torch.var(grouped, -1, unbiased=False, keepdim=True)
    norm = ((grouped - mean) / torch.sqrt(var + epsilon)).reshape(x.shape)
    if scale.numel() != channels:
        # Opset 18 form: one scale and bias per group.
        scale = scale.repeat_interleave(channels // groups)
        bias = bias.repeat_interleave(channels // groups)
    return norm * _channel_shape(x, scale) + _channel_shape(x, bias)


def lrn(x: Tensor, size: int, alpha: float, beta: float, bias: float) -> Tensor:
    below = (size - 1) // 2
    above = size - 1 - below
    squared = (x * x).unsqueeze(1)  # [N, 1, C, ...] so the channel axis can be padded
    flat = [0, 0] * (x.dim() - 2) + [below, above]
    padded = torch.constant_pad_nd(squared, flat, 0.0).squeeze(1)
    total = torch.zeros_like(x)
    for k in range(size):
        total = total + padded.narrow(1, k, x.shape[1])
    return x / torch.pow(bias + alpha / size * total, beta)


def dropout(x: Tensor) -> Tuple[Tensor, Tensor]:
    return x, torch.ones(x.shape, dtype=torch.bool)


def _bounds(dtype: torch.dtype) -> Tuple[float, float]:
    if dtype == torch.uint8:
        return 0.0, 255.0
    if dtype == torch.int8:
        return -128.0, 127.0
    if dtype == torch.int16:
        return -32768.0, 32767.0
    if dtype == torch.uint16:
        return 0.0, 65535.0
    return -2147483648.0, 2147483647.0


def _per_axis(x: Tensor, t: Tensor, axis: int, block: int) -> Tensor:
    """Broadcast a scale/zero point: scalar, one value per index of axis, or per block."""
    if t.dim() == 0 or t.numel() == 1:
        return t.reshape([])
    axis = axis + x.dim() if axis < 0 else axis
    if block > 0:
        return t.repeat_interleave(block, axis).narrow(axis, 0, x.shape[axis])
    shape = [1] * x.dim()
    shape[axis] = -1
    return t.reshape(shape)


def quantize(
    x: Tensor, scale: Tensor, zero_point: Optional[Tensor], axis: int, block: int,
    out_dtype: torch.dtype,
) -> Tensor:
    if zero_point is not None:
        out_dtype = zero_point.dtype
    s = _per_axis(x, scale, axis, block).to(torch.float32)
    scaled = torch.round(x.to(torch.float32) / s)
    if zero_point is not None:
        scaled = scaled + _per_axis(x, zero_point, axis, block).to(torch.float32)
    low, high = _bounds(out_dtype)
    return torch.clamp(scaled, low, high).to(out_dtype)


def dequantize(
    x: Tensor, scale: Tensor, zero_point: Optional[Tensor], axis: int, block: int
) -> Tensor:
    s = _per_axis(x, scale, axis, block)
    values = x.to(torch.float32)
    if zero_point is not None:
        values = values - _per_axis(x, zero_point, axis, block).to(torch.float32)
    return (values * s.to(torch.float32)).to(scale.dtype)


def dynamic_quantize(x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    low = torch.clamp(torch.min(x), max=0.0)
    high = torch.clamp(torch.max(x), min=0.0)
    scale = (high - low) / 255.0
    zero = torch.clamp(torch.round(-low / scale), 0.0, 255.0)
    y = torch.clamp(torch.round(x / scale) + zero, 0.0, 255.0)
    return y.to(torch.uint8), scale.to(torch.float32), zero.to(torch.uint8)


def matmul_integer(
    a: Tensor, b: Tensor, a_zero: Optional[Tensor], b_zero: Optional[Tensor]
) -> Tensor:
    wa = a.to(torch.int64)
    wb = b.to(torch.int64)
    if a_zero is not None:
        wa = wa - (a_zero.to(torch.int64).unsqueeze(-1) if a_zero.dim() == 1 else a_zero)
    if b_zero is not None:
        wb = wb - b_zero.to(torch.int64)
    return torch.matmul(wa, wb).to(torch.int32)


def qlinear_matmul(
    a: Tensor, a_scale: Tensor, a_zero: Tensor, b: Tensor, b_scale: Tensor, b_zero: Tensor,
    y_scale: Tensor, y_zero: Tensor,
) -> Tensor:
    wa = (a.to(torch.float64) - a_zero.to(torch.float64)) * a_scale.to(torch.float64)
    wb = (b.to(torch.float64) - b_zero.to(torch.float64)) * b_scale.to(torch.float64)
    out = torch.matmul(wa, wb) / y_scale.to(torch.float64)
    low, high = _bounds(y_zero.dtype)
    return torch.clamp(torch.round(out) + y_zero.to(torch.float64), low, high).to(y_zero.dtype)
