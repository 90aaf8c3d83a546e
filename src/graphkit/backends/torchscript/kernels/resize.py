"""Resize, one axis at a time: each axis becomes an [out, in] weight matrix.

Interpolation in ONNX Resize is separable, so nearest, linear, cubic and their
antialiased forms all reduce to: map output positions to source coordinates, take a
fixed number of neighbouring taps with per-tap weights, clamp taps at the edges.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor


def _source(mode: str, out_int: int, scale: float, size: int, lo: float, hi: float) -> Tensor:
    y = torch.arange(out_int, dtype=torch.float64)
    out = scale * size  # the real-valued output length
    if mode == "align_corners":
        return torch.zeros_like(y) if out == 1 else y * (size - 1) / (out - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        if out == 1:
            x = torch.full([out_int], (hi - lo) * (size - 1) / 2, dtype=torch.float64)
        else:
            x = y * (hi - lo) * (size - 1) / (out - 1)
        return x + lo * (size - 1)
    if mode == "pytorch_half_pixel":
        return torch.full([out_int], -0.5, dtype=torch.float64) if out == 1 else (
            (y + 0.5) / scale - 0.5
        )
    if mode == "half_pixel_symmetric":
        offset = size / 2 * (1 - out_int / out)
        return offset + (y + 0.5) / scale - 0.5
    return (y + 0.5) / scale - 0.5


def _cubic(d: Tensor, a: float) -> Tensor:
    d = torch.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))


def _taps(
    ratio: Tensor, kind: str, nearest: str, a: float, antialias: int, scale: float
) -> Tensor:
    """Per-output weights of the n taps to the left/right of the source coordinate."""
    r = ratio.unsqueeze(1)
    if kind == "nearest":
        if nearest == "round_prefer_ceil":
            right = r >= 0.5
        elif nearest == "floor":
            right = r >= 1.0
        elif nearest == "ceil":
            right = r > 0.0
        else:
            right = r > 0.5
        right = right | (r == 1.0)
        return torch.cat([(~right).to(torch.float64), right.to(torch.float64)], 1)
    if antialias == 1:
        s = min(scale, 1.0)
        reach = 1.0 if kind == "linear" else 2.0
        start = int(math.floor(-reach / s) + 1)
        offsets = torch.arange(start, 2 - start, dtype=torch.float64).unsqueeze(0)
        t = (offsets - r) * s
        w = torch.clamp(1 - torch.abs(t), 0.0, 1.0) if kind == "linear" else _cubic(t, a)
        return w / torch.sum(w, 1, True)
    if kind == "linear":
        return torch.cat([1 - r, r], 1)
    offsets = torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=torch.float64).unsqueeze(0)
    return _cubic(offsets - r, a)


def _axis_weights(
    size: int, out_int: int, scale: float, lo: float, hi: float, coord: str, kind: str,
    nearest: str, a: float, exclude: int, antialias: int,
) -> Tuple[Tensor, Tensor]:
    x = _source(coord, out_int, scale, size, lo, hi)
    base = torch.floor(x)
    ratio = torch.where(x == base, torch.ones_like(x), x - base)
    w = _taps(ratio, kind, nearest, a, antialias, scale)
    n = w.shape[1]
    pad = (n + 1) // 2
    shifted = x + pad
    p = torch.floor(shifted)
    first = p + torch.where(shifted == p, -(n // 2), -(n // 2) + 1)
    index = (first.unsqueeze(1) + torch.arange(n).unsqueeze(0) - pad).to(torch.int64)
    if exclude == 1:
        w = torch.where((index < 0) | (index >= size), torch.zeros_like(w), w)
        total = torch.sum(w, 1, True)
        w = w / torch.where(total == 0, torch.ones_like(total), total)
    matrix = torch.zeros([out_int, size], dtype=torch.float64)
    matrix = matrix.scatter_add(1, index.clamp(0, size - 1), w)
    return matrix, (x < 0) | (x > size - 1)


def resize(
    x: Tensor, roi: Optional[Tensor], scales: Optional[Tensor], sizes: Optional[Tensor],
    axes: List[int], coord: str, kind: str, nearest: str, a: float, exclude: int,
    extrapolation: float, antialias: int, policy: str,
) -> Tensor:
    rank = x.dim()
    dims = [d + rank if d < 0 else d for d in axes] if len(axes) > 0 else list(range(rank))
    factors = [1.0] * rank
    lengths: List[int] = list(x.shape)
    if sizes is not None and sizes.numel() > 0:
        wanted: List[int] = sizes.to(torch.int64).tolist()
        ratios = [wanted[k] / x.shape[d] for k, d in enumerate(dims)]
        for k, d in enumerate(dims):
            factors[d] = ratios[k]
            lengths[d] = wanted[k]
        if policy != "stretch":
            s = min(ratios) if policy == "not_larger" else max(ratios)
            for d in dims:
                factors[d] = s
                lengths[d] = int(s * x.shape[d] + 0.5)
    elif scales is not None:
        given: List[float] = scales.to(torch.float64).tolist()
        for k, d in enumerate(dims):
            factors[d] = given[k]
            lengths[d] = int(math.floor(given[k] * x.shape[d]))
    box: List[float] = []
    if roi is not None and roi.numel() > 0:
        corners: List[float] = roi.to(torch.float64).tolist()
        box = corners
    out = x.to(torch.float64)
    outside = torch.zeros([1] * rank, dtype=torch.bool)
    for k, d in enumerate(dims):
        lo = box[k] if len(box) > 0 else 0.0
        hi = box[k + len(dims)] if len(box) > 0 else 1.0
        trivial = factors[d] == 1.0 and lengths[d] == x.shape[d] and lo == 0.0 and hi == 1.0
        if trivial:
            continue
        matrix, off = _axis_weights(x.shape[d], lengths[d], factors[d], lo, hi, coord, kind,
                                    nearest, a, exclude, antialias)
        out = torch.matmul(out.movedim(d, -1), matrix.t()).movedim(-1, d)
        shape = [1] * rank
        shape[d] = lengths[d]
        outside = outside | off.reshape(shape)
    if coord == "tf_crop_and_resize":
        out = torch.where(outside, torch.full([], extrapolation, dtype=torch.float64), out)
    if not x.is_floating_point():
        out = torch.round(out)
    return out.to(x.dtype)
