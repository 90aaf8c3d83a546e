"""Reductions, arg-reductions, softmax family and cumulative ops."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor


def _dims(x: Tensor, axes: Optional[Tensor]) -> List[int]:
    if axes is None or axes.numel() == 0:
        return list(range(x.dim()))
    values: List[int] = axes.to(torch.int64).reshape(-1).tolist()
    return [a + x.dim() if a < 0 else a for a in values]


def _empty_result(x: Tensor, dims: List[int], keepdims: int, fill: float) -> Tensor:
    shape: List[int] = []
    for i in range(x.dim()):
        if i not in dims:
            shape.append(x.shape[i])
        elif keepdims == 1:
            shape.append(1)
    return torch.full(shape, fill, dtype=x.dtype)


def _int_bound(dtype: torch.dtype, upper: bool) -> float:
    bits = {torch.int8: 8, torch.int16: 16, torch.int32: 32, torch.int64: 64, torch.uint8: 8}
    n = bits.get(dtype, 64)
    if dtype == torch.bool:
        return 1.0 if upper else 0.0
    if dtype == torch.uint8:
        return 255.0 if upper else 0.0
    return float(2 ** (n - 1) - 1) if upper else float(-(2 ** (n - 1)))


def _extreme(x: Tensor, dims: List[int], keep: bool, largest: bool) -> Tensor:
    if x.numel() == 0:
        # An empty reduction yields the identity: -inf for max, +inf for min.
        if x.is_floating_point():
            fill = float("-inf") if largest else float("inf")
        else:
            fill = _int_bound(x.dtype, not largest)
        return _empty_result(x, dims, 1 if keep else 0, fill)
    if x.dtype == torch.bool:
        wide = x.to(torch.uint8)
        out = torch.amax(wide, dims, keep) if largest else torch.amin(wide, dims, keep)
        return out.to(torch.bool)
    return torch.amax(x, dims, keep) if largest else torch.amin(x, dims, keep)


def _prod(x: Tensor, dims: List[int], keep: bool) -> Tensor:
    order = list(dims)
    order.sort()
    out = x
    for i in range(len(order) - 1, -1, -1):
        out = torch.prod(out, order[i], keep)
    return out


def reduce(x: Tensor, axes: Optional[Tensor], keepdims: int, noop: int, kind: str) -> Tensor:
    if noop == 1 and (axes is None or axes.numel() == 0):
        return x
    dims = _dims(x, axes)
    keep = keepdims == 1
    if kind == "max" or kind == "min":
        return _extreme(x, dims, keep, kind == "max")
    wide = x.to(torch.float64) if x.is_floating_point() else x.to(torch.int64)
    if kind == "sum":
        out = torch.sum(wide, dims, keep)
    elif kind == "mean":
        out = torch.mean(wide.to(torch.float64), dims, keep)
    elif kind == "prod":
        out = _prod(wide, dims, keep)
    elif kind == "l1":
        out = torch.sum(torch.abs(wide), dims, keep)
    elif kind == "l2":
        out = torch.sqrt(torch.sum(wide * wide, dims, keep).to(torch.float64))
    elif kind == "sum_square":
        out = torch.sum(wide * wide, dims, keep)
    elif kind == "log_sum":
        out = torch.log(torch.sum(wide, dims, keep).to(torch.float64))
    else:
        out = torch.logsumexp(wide.to(torch.float64), dims, keep)
    return out.to(x.dtype)


def reduce_attrs(x: Tensor, axes: List[int], keepdims: int, kind: str) -> Tensor:
    axes_tensor = torch.tensor(axes, dtype=torch.int64) if len(axes) > 0 else None
    return reduce(x, axes_tensor, keepdims, 0, kind)


def arg_extreme(x: Tensor, axis: int, keepdims: int, last: int, largest: bool) -> Tensor:
    axis = axis + x.dim() if axis < 0 else axis
    data = torch.flip(x, [axis]) if last == 1 else x
    index = torch.argmax(data, axis, True) if largest else torch.argmin(data, axis, True)
    if last == 1:
        index = x.shape[axis] - 1 - index
    return index if keepdims == 1 else index.squeeze(axis)


def _coerce_2d(x: Tensor, axis: int) -> Tensor:
    axis = axis + x.dim() if axis < 0 else axis
    outer = 1
    for d in x.shape[:axis]:
        outer *= d
    return x.reshape([outer, -1])


def softmax(x: Tensor, axis: int, legacy: bool, kind: str) -> Tensor:
    """kind: softmax, log_softmax or hardmax; legacy = the flatten-to-2D form before opset 13."""
    data = _coerce_2d(x, axis) if legacy else x
    dim = 1 if legacy else axis
    if kind == "softmax":
        out = torch.softmax(data, dim)
    elif kind == "log_softmax":
        out = torch.log_softmax(data, dim)
    else:
        index = torch.argmax(data, dim, True)
        out = torch.zeros_like(data).scatter(dim, index, 1.0)
    return out.reshape(x.shape)


def cumulative(x: Tensor, axis: Tensor, exclusive: int, reverse: int, product: bool) -> Tensor:
    dim = int(axis.reshape(-1)[0].item())
    dim = dim + x.dim() if dim < 0 else dim
    data = torch.flip(x, [dim]) if reverse == 1 else x
    out = torch.cumprod(data, dim) if product else torch.cumsum(data, dim)
    if exclusive == 1:
        first = torch.ones_like(data.narrow(dim, 0, 1)) if product else torch.zeros_like(
            data.narrow(dim, 0, 1)
        )
        out = torch.cat([first, out.narrow(dim, 0, out.shape[dim] - 1)], dim)
    out = out.to(x.dtype)
    return torch.flip(out, [dim]) if reverse == 1 else out


def lp_normalize(x: Tensor, axis: int, p: int) -> Tensor:
    if p == 1:
        norm = torch.sum(torch.abs(x), axis, True)
    else:
        norm = torch.sqrt(torch.sum(x * x, axis, True))
    return torch.where(norm == 0, torch.zeros_like(x), x / norm)
