"""Elementwise ONNX ops whose torch form needs more than one aten call."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor


def div(a: Tensor, b: Tensor) -> Tensor:
    # ONNX integer Div truncates toward zero (C semantics), torch.div would return floats.
    if a.is_floating_point():
        return torch.div(a, b)
    return torch.div(a, b, rounding_mode="trunc")


def mod(a: Tensor, b: Tensor, fmod: int) -> Tensor:
    # fmod=0: result takes the divisor's sign (Python %); fmod=1: the dividend's (C fmod).
    if fmod == 1:
        return torch.fmod(a, b)
    return torch.remainder(a, b)


def pow_(a: Tensor, b: Tensor) -> Tensor:
    # The result keeps the base's type whatever the exponent's type is.
    if not a.is_floating_point() and not b.is_floating_point():
        return torch.pow(a.to(torch.int64), b.to(torch.int64)).to(a.dtype)
    return torch.pow(a.to(torch.float64), b.to(torch.float64)).to(a.dtype)


def bitshift(a: Tensor, b: Tensor, left: bool) -> Tensor:
    wide = a.to(torch.int64)
    shift = b.to(torch.int64)
    out = torch.bitwise_left_shift(wide, shift) if left else torch.bitwise_right_shift(wide, shift)
    return out.to(a.dtype)


def clip(x: Tensor, lo: Optional[Tensor], hi: Optional[Tensor]) -> Tensor:
    if lo is not None:
        x = torch.maximum(x, lo.to(x.dtype))
    if hi is not None:
        x = torch.minimum(x, hi.to(x.dtype))
    return x


def clip_attrs(x: Tensor, lo: float, hi: float) -> Tensor:
    return torch.clamp(x, lo, hi)


def variadic_max(xs: List[Tensor]) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = torch.maximum(out, x)
    return out


def variadic_min(xs: List[Tensor]) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = torch.minimum(out, x)
    return out


def variadic_sum(xs: List[Tensor]) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def variadic_mean(xs: List[Tensor]) -> Tensor:
    return variadic_sum(xs) / len(xs)


def sign(x: Tensor) -> Tensor:
    return torch.sign(x)


def round_half_even(x: Tensor) -> Tensor:
    return torch.round(x)


def is_inf(x: Tensor, detect_negative: int, detect_positive: int) -> Tensor:
    if detect_negative == 1 and detect_positive == 1:
        return torch.isinf(x)
    if detect_negative == 1:
        return torch.isneginf(x)
    if detect_positive == 1:
        return torch.isposinf(x)
    return torch.zeros_like(x, dtype=torch.bool)


def reciprocal(x: Tensor) -> Tensor:
    return torch.reciprocal(x)


def where(c: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return torch.where(c, a, b)


def logical_xor(a: Tensor, b: Tensor) -> Tensor:
    return torch.logical_xor(a, b)


def bitwise_not(x: Tensor) -> Tensor:
    return torch.bitwise_not(x)
