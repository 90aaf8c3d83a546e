"""Gather, scatter and selection ops, with ONNX's negative-index rules."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _wrap(index: Tensor, size: int) -> Tensor:
    index = index.to(torch.int64)
    return torch.where(index < 0, index + size, index)


def _product(dims: List[int]) -> int:
    out = 1
    for d in dims:
        out *= d
    return out


def gather(data: Tensor, indices: Tensor, axis: int) -> Tensor:
    axis = _axis(axis, data.dim())
    index = _wrap(indices, data.shape[axis])
    picked = data.index_select(axis, index.reshape(-1))
    shape = list(data.shape[:axis]) + list(index.shape) + list(data.shape[axis + 1 :])
    return picked.reshape(shape)


def gather_elements(data: Tensor, indices: Tensor, axis: int) -> Tensor:
    axis = _axis(axis, data.dim())
    return torch.gather(data, axis, _wrap(indices, data.shape[axis]))


def _linear_index(shape: List[int], indices: Tensor) -> Tensor:
    """Row-major offsets of index tuples (last dim of `indices`) into dims `shape`."""
    lin = torch.zeros(indices.shape[:-1], dtype=torch.int64)
    for j in range(indices.shape[-1]):
        lin = lin * shape[j] + _wrap(indices[..., j], shape[j])
    return lin


def gather_nd(data: Tensor, indices: Tensor, batch_dims: int) -> Tensor:
    batch = list(data.shape[:batch_dims])
    k = indices.shape[-1]
    picked = list(data.shape[batch_dims : batch_dims + k])
    rest = list(data.shape[batch_dims + k :])
    n_batch = _product(batch)
    idx = indices.reshape([n_batch, -1, k])
    lin = _linear_index(picked, idx)
    offsets = torch.arange(n_batch, dtype=torch.int64).unsqueeze(1) * _product(picked)
    flat = data.reshape([n_batch * _product(picked)] + rest)
    out = flat.index_select(0, (lin + offsets).reshape(-1))
    return out.reshape(list(indices.shape[:-1]) + rest)


def scatter_elements(
    data: Tensor, indices: Tensor, updates: Tensor, axis: int, reduction: str
) -> Tensor:
    axis = _axis(axis, data.dim())
    index = _wrap(indices, data.shape[axis])
    if reduction == "none":
        return data.scatter(axis, index, updates)
    mode = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}[reduction]
    return data.scatter_reduce(axis, index, updates, mode, include_self=True)


def scatter_nd(data: Tensor, indices: Tensor, updates: Tensor, reduction: str) -> Tensor:
    k = indices.shape[-1]
    picked = list(data.shape[:k])
    rest = list(data.shape[k:])
    lin = _linear_index(picked, indices).reshape(-1)
    flat = data.reshape([_product(picked)] + rest).clone()
    values = updates.reshape([lin.shape[0]] + rest)
    if reduction == "none":
        flat = flat.index_copy(0, lin, values)
    elif reduction == "add":
        flat = flat.index_add(0, lin, values)
    else:
        mode = {"mul": "prod", "max": "amax", "min": "amin"}[reduction]
        flat = flat.index_reduce(0, lin, values, mode, include_self=True)
    return flat.reshape(data.shape)


def compress(x: Tensor, condition: Tensor, axis: Optional[int]) -> Tensor:
    data = x.reshape(-1) if axis is None else x
    dim = 0 if axis is None else _axis(axis, x.dim())
    keep = condition.reshape(-1)[: data.shape[dim]]
    return data.index_select(dim, torch.nonzero(keep).reshape(-1))


def top_k(
    x: Tensor, k: Tensor, axis: int, largest: int, sorted_: int
) -> Tuple[Tensor, Tensor]:
    # A stable sort keeps the lower index first among equal values, as ONNX asks.
    count = int(k.reshape(-1)[0].item())
    values, order = torch.sort(x, dim=axis, descending=largest == 1, stable=True)
    return values.narrow(axis, 0, count), order.narrow(axis, 0, count)


def unique(
    x: Tensor, axis: Optional[int], sorted_: int
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    data = x.reshape(-1) if axis is None else x
    dim = 0 if axis is None else _axis(axis, x.dim())
    values, inverse, counts = torch.unique(data, sorted=True, return_inverse=True,
                                           return_counts=True, dim=dim)
    positions = torch.arange(inverse.shape[0], dtype=torch.int64)
    first = torch.full([values.shape[dim]], inverse.shape[0], dtype=torch.int64)
    first = first.scatter_reduce(0, inverse, positions, "amin", include_self=True)
    if sorted_ == 0:
        # Order of first appearance instead of sorted order.
        order = torch.argsort(first)
        rank = torch.argsort(order)
        return values.index_select(dim, order), first[order], rank[inverse], counts[order]
    return values, first, inverse, counts


def reverse_sequence(x: Tensor, lengths: Tensor, batch_axis: int, time_axis: int) -> Tensor:
    steps = x.shape[time_axis]
    t = torch.arange(steps, dtype=torch.int64).unsqueeze(1)
    lens = lengths.to(torch.int64).unsqueeze(0)
    source = torch.where(t < lens, lens - 1 - t, t)  # [time, batch]
    shape = [1] * x.dim()
    shape[time_axis] = steps
    shape[batch_axis] = lengths.shape[0]
    if time_axis > batch_axis:
        source = source.t()
    return torch.gather(x, time_axis, source.reshape(shape).expand(x.shape))
