"""Shape and layout ops: sizes come from tensors at run time, so dynamic dims stay dynamic."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor


def _ints(t: Tensor) -> List[int]:
    values: List[int] = t.to(torch.int64).reshape(-1).tolist()
    return values


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def reshape(x: Tensor, shape: Tensor, allowzero: int) -> Tensor:
    dims = _ints(shape)
    if allowzero == 0:
        # 0 copies the input's dim at that position.
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return x.reshape(dims)


def flatten(x: Tensor, axis: int) -> Tensor:
    axis = _axis(axis, x.dim())
    outer = 1
    for d in x.shape[:axis]:
        outer *= d
    inner = 1
    for d in x.shape[axis:]:
        inner *= d
    return x.reshape([outer, inner])


def transpose(x: Tensor, perm: List[int]) -> Tensor:
    if len(perm) == 0:
        perm = list(range(x.dim() - 1, -1, -1))
    return x.permute(perm)


def squeeze(x: Tensor, axes: Optional[Tensor]) -> Tensor:
    dims: List[int] = []
    if axes is not None:
        dims = [_axis(a, x.dim()) for a in _ints(axes)]
    keep: List[int] = []
    for i in range(x.dim()):
        dropped = x.shape[i] == 1 if axes is None else i in dims
        if not dropped:
            keep.append(x.shape[i])
    return x.reshape(keep)


def unsqueeze(x: Tensor, axes: Tensor) -> Tensor:
    rank = x.dim() + axes.numel()
    dims = sorted([_axis(a, rank) for a in _ints(axes)])
    out = x
    for d in dims:
        out = out.unsqueeze(d)
    return out


def concat(xs: List[Tensor], axis: int) -> Tensor:
    return torch.cat(xs, axis)


def split(x: Tensor, sizes: Optional[Tensor], axis: int, count: int) -> List[Tensor]:
    axis = _axis(axis, x.dim())
    if sizes is not None and sizes.numel() > 0:
        return list(torch.split(x, _ints(sizes), axis))
    # Equal parts, the last one smaller when the dim does not divide (opset 18).
    size = (x.shape[axis] + count - 1) // count
    return list(torch.split(x, size, axis))


def _slice_axis(x: Tensor, axis: int, start: int, end: int, step: int) -> Tensor:
    dim = x.shape[axis]
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
        if step == 1:
            return x.narrow(axis, start, max(end - start, 0))
    else:
        start = min(max(start, 0), dim - 1)
        end = min(max(end, -1), dim - 1)
    index = torch.arange(start, end, step, dtype=torch.int64, device=x.device)
    return x.index_select(axis, index)


def slice_(
    x: Tensor, starts: Tensor, ends: Tensor, axes: Optional[Tensor], steps: Optional[Tensor]
) -> Tensor:
    begin = _ints(starts)
    stop = _ints(ends)
    dims = _ints(axes) if axes is not None else list(range(len(begin)))
    strides = _ints(steps) if steps is not None else [1 for _ in begin]
    out = x
    for i in range(len(begin)):
        out = _slice_axis(out, _axis(dims[i], x.dim()), begin[i], stop[i], strides[i])
    return out


def broadcast_shape(a: List[int], b: List[int]) -> List[int]:
    rank = max(len(a), len(b))
    a = [1] * (rank - len(a)) + a
    b = [1] * (rank - len(b)) + b
    return [a[i] if b[i] == 1 else b[i] for i in range(rank)]


def expand(x: Tensor, shape: Tensor) -> Tensor:
    target = broadcast_shape(list(x.shape), _ints(shape))
    return x.expand(target).clone()


def tile(x: Tensor, repeats: Tensor) -> Tensor:
    return x.repeat(_ints(repeats))


def shape(x: Tensor, start: int, end: Optional[int]) -> Tensor:
    rank = x.dim()
    first = min(max(_axis(start, rank), 0), rank)
    last = rank if end is None else min(max(_axis(end, rank), 0), rank)
    dims: List[int] = list(x.shape)[first:last]
    return torch.tensor(dims, dtype=torch.int64)


def size(x: Tensor) -> Tensor:
    return torch.tensor(x.numel(), dtype=torch.int64)


def depth_to_space(x: Tensor, blocksize: int, mode: str) -> Tensor:
    n, c, h, w = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    b = blocksize
    if mode == "DCR":
        t = x.reshape([n, b, b, c // (b * b), h, w]).permute([0, 3, 4, 1, 5, 2])
    else:
        t = x.reshape([n, c // (b * b), b, b, h, w]).permute([0, 1, 4, 2, 5, 3])
    return t.reshape([n, c // (b * b), h * b, w * b])


def space_to_depth(x: Tensor, blocksize: int, mode: str) -> Tensor:
    n, c, h, w = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    b = blocksize
    t = x.reshape([n, c, h // b, b, w // b, b])
    # DCR puts the block offset before the channel, CRD after it.
    t = t.permute([0, 3, 5, 1, 2, 4]) if mode == "DCR" else t.permute([0, 1, 3, 5, 2, 4])
    return t.reshape([n, c * b * b, h // b, w // b])


def _pad_index(n: int, before: int, after: int, mode: str) -> Tensor:
    index = torch.arange(-before, n + after, dtype=torch.int64)
    if mode == "edge":
        return index.clamp(0, n - 1)
    if mode == "wrap":
        return torch.remainder(index, n)
    # reflect: mirror without repeating the edge element.
    period = 2 * (n - 1) if n > 1 else 1
    index = torch.remainder(index, period)
    return torch.where(index >= n, period - index, index)


def pad(
    x: Tensor, pads: Tensor, value: Optional[Tensor], axes: Optional[Tensor], mode: str
) -> Tensor:
    amounts = _ints(pads)
    rank = x.dim()
    dims = [_axis(a, rank) for a in _ints(axes)] if axes is not None else list(range(rank))
    half = len(dims)
    if mode == "constant":
        flat: List[int] = []
        for i in range(rank - 1, -1, -1):
            k = dims.index(i) if i in dims else -1
            flat += [amounts[k], amounts[k + half]] if k >= 0 else [0, 0]
        fill = value.item() if value is not None and value.numel() > 0 else 0
        return torch.constant_pad_nd(x, flat, fill)
    out = x
    for k in range(half):
        index = _pad_index(out.shape[dims[k]], amounts[k], amounts[k + half], mode)
        out = out.index_select(dims[k], index)
    return out


def pad_attrs(x: Tensor, pads: List[int], value: float, mode: str) -> Tensor:
    return pad(x, torch.tensor(pads, dtype=torch.int64), torch.tensor(value), None, mode)


def center_crop_pad(x: Tensor, shape: Tensor, axes: List[int]) -> Tensor:
    sizes = _ints(shape)
    rank = x.dim()
    dims = [_axis(a, rank) for a in axes] if len(axes) > 0 else list(range(rank))
    out = x
    for k in range(len(dims)):
        d = dims[k]
        have = out.shape[d]
        want = sizes[k]
        if have > want:
            out = out.narrow(d, (have - want) // 2, want)
        elif have < want:
            extra = want - have
            flat: List[int] = [0, 0] * (rank - 1 - d) + [extra // 2, extra - extra // 2]
            out = torch.constant_pad_nd(out, flat, 0)
    return out
