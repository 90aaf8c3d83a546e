"""ONNX sequences as List[Tensor] and optionals as Optional[...]."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor


def _position(pos: Optional[Tensor], length: int, default: int) -> int:
    if pos is None:
        return default
    p = int(pos.item())
    return p + length if p < 0 else p


def construct(xs: List[Tensor]) -> List[Tensor]:
    return list(xs)


def empty() -> List[Tensor]:
    out: List[Tensor] = []
    return out


def insert(seq: List[Tensor], x: Tensor, pos: Optional[Tensor]) -> List[Tensor]:
    out = list(seq)
    out.insert(_position(pos, len(seq), len(seq)), x)
    return out


def at(seq: List[Tensor], pos: Tensor) -> Tensor:
    return seq[_position(pos, len(seq), 0)]


def erase(seq: List[Tensor], pos: Optional[Tensor]) -> List[Tensor]:
    out = list(seq)
    out.pop(_position(pos, len(seq), len(seq) - 1))
    return out


def length(seq: List[Tensor]) -> Tensor:
    return torch.tensor(len(seq), dtype=torch.int64)


def concat_from(seq: List[Tensor], axis: int, new_axis: int) -> Tensor:
    if new_axis == 1:
        rank = seq[0].dim() + 1
        return torch.stack(seq, axis + rank if axis < 0 else axis)
    return torch.cat(seq, axis)


def split_to(x: Tensor, split: Optional[Tensor], axis: int, keepdims: int) -> List[Tensor]:
    axis = axis + x.dim() if axis < 0 else axis
    if split is None:
        parts = list(torch.split(x, 1, axis))
        if keepdims == 0:
            return [p.squeeze(axis) for p in parts]
        return parts
    if split.dim() == 0:
        return list(torch.split(x, int(split.item()), axis))
    sizes: List[int] = split.to(torch.int64).tolist()
    return list(torch.split(x, sizes, axis))


def has_tensor(x: Optional[Tensor]) -> Tensor:
    return torch.tensor(x is not None)


def has_sequence(x: Optional[List[Tensor]]) -> Tensor:
    return torch.tensor(x is not None)


def get_tensor(x: Optional[Tensor]) -> Tensor:
    assert x is not None, "OptionalGetElement of an empty optional"
    return x


def get_sequence(x: Optional[List[Tensor]]) -> List[Tensor]:
    assert x is not None, "OptionalGetElement of an empty optional"
    return x


def wrap_tensor(x: Optional[Tensor]) -> Optional[Tensor]:
    return x


def wrap_sequence(x: Optional[List[Tensor]]) -> Optional[List[Tensor]]:
    return x


def none_tensor() -> Optional[Tensor]:
    return None


def none_sequence() -> Optional[List[Tensor]]:
    return None
