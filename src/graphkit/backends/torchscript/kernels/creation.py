"""Ops that make tensors: casts, constants, ranges, one-hot, eye, triangles."""

from __future__ import annotations

import math
from typing import List, Optional

import torch
from torch import Tensor


def _ints(t: Tensor) -> List[int]:
    values: List[int] = t.to(torch.int64).reshape(-1).tolist()
    return values


def cast(x: Tensor, dtype: torch.dtype) -> Tensor:
    return x.to(dtype)


def cast_like(x: Tensor, like: Tensor) -> Tensor:
    return x.to(like.dtype)


def constant_of_shape(shape: Tensor, value: Tensor) -> Tensor:
    return value.reshape(-1)[0].expand(_ints(shape)).clone()


def range_(start: Tensor, limit: Tensor, delta: Tensor) -> Tensor:
    # Count from the ONNX formula: max(ceil((limit - start) / delta), 0).
    span = (limit.to(torch.float64) - start.to(torch.float64)) / delta.to(torch.float64)
    count = max(int(torch.ceil(span).item()), 0)
    steps = torch.arange(count, dtype=torch.int64)
    if start.is_floating_point():
        return (start + steps.to(start.dtype) * delta).to(start.dtype)
    return (start.to(torch.int64) + steps * delta.to(torch.int64)).to(start.dtype)


def eye_like(x: Tensor, k: int, dtype: Optional[torch.dtype]) -> Tensor:
    rows = torch.arange(x.shape[0], dtype=torch.int64).unsqueeze(1)
    cols = torch.arange(x.shape[1], dtype=torch.int64).unsqueeze(0)
    out_dtype = x.dtype if dtype is None else dtype
    return (cols - rows == k).to(out_dtype)


def one_hot(indices: Tensor, depth: Tensor, values: Tensor, axis: int) -> Tensor:
    n = int(depth.reshape(-1)[0].item())
    rank = indices.dim() + 1
    axis = axis + rank if axis < 0 else axis
    index = indices.to(torch.int64)
    index = torch.where(index < 0, index + n, index).unsqueeze(axis)
    classes_shape = [1] * rank
    classes_shape[axis] = n
    classes = torch.arange(n, dtype=torch.int64).reshape(classes_shape)
    return torch.where(index == classes, values[1], values[0])


def trilu(x: Tensor, k: Optional[Tensor], upper: int) -> Tensor:
    shift = int(k.item()) if k is not None else 0
    if upper == 1:
        return torch.triu(x, shift)
    return torch.tril(x, shift)


def nonzero(x: Tensor) -> Tensor:
    return torch.nonzero(x).t().contiguous()


def det(x: Tensor) -> Tensor:
    return torch.linalg.det(x)


def window(size: Tensor, kind: str, periodic: int, dtype: torch.dtype) -> Tensor:
    """Hann/Hamming/Blackman from their ONNX formulas; periodic windows divide by N, not N-1."""
    n = int(size.item())
    denominator = float(n if periodic != 0 else n - 1)
    angle = 2.0 * math.pi * torch.arange(n, dtype=torch.float64) / denominator
    if kind == "hann":
        w = 0.5 - 0.5 * torch.cos(angle)
    elif kind == "hamming":
        w = 25.0 / 46.0 - 21.0 / 46.0 * torch.cos(angle)
    else:
        w = 0.42 - 0.5 * torch.cos(angle) + 0.08 * torch.cos(2.0 * angle)
    return w.to(dtype)
