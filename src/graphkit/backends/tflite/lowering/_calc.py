"""Arithmetic on temporary tensors of known shape, for lowerings that compute many
intermediate values (coordinates, weights, indices) before their one gather.

`Calc(ctx)` writes each builtin as a method that makes its output tensor with the
broadcast shape and the right type, so a lowering reads like the formula it follows:
`calc.mul(calc.add(g, 1.0), 0.5)`. Python numbers become float32 (or the other operand's
integer type) constants.

`Calc(ctx, dynamic=True)`: the leading dim is known only at run time (recorded as 1). Every
RESHAPE then writes -1 there, which is right wherever the leading dim is a multiple of it
and the others are exact, as they are in the lowerings that use it; STRIDED_SLICE keeps
whole every dim but the one it slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext


@dataclass(frozen=True)
class T:
    """A tensor of the flatbuffer being written: its index, shape and numpy type."""
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype


_BINARY_OPTIONS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
                   "DIV": "DivOptions"}
_COMPARISONS = ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL",
                "LOGICAL_AND", "LOGICAL_OR")


@dataclass
class Calc:
    ctx: EmitContext
    dynamic: bool = False

    def tensor(self, index: int, shape, dtype) -> T:
        return T(index, tuple(int(d) for d in shape), np.dtype(dtype))

    def const(self, array: Any, dtype: Any = np.float32) -> T:
        array = np.asarray(array, dtype=dtype)
        return T(self.ctx.const(array), array.shape, array.dtype)

    def temp(self, shape, dtype, name: str = "calc") -> T:
        shape = tuple(int(d) for d in shape)
        return T(self.ctx.temp(name, dtype, list(shape)), shape, np.dtype(dtype))

    def _operand(self, value: T | float | int, like: T) -> T:
        if isinstance(value, T):
            return value
        return self.const(value, like.dtype if like.dtype != np.bool_ else np.float32)

    def binary(self, builtin: str, a: T | float, b: T | float) -> T:
        if not isinstance(a, T):
            a = self._operand(a, b)
        b = self._operand(b, a)
        shape = np.broadcast_shapes(a.shape, b.shape)
        dtype = np.bool_ if builtin in _COMPARISONS else a.dtype
        out = self.temp(shape, dtype, builtin.lower())
        kind = _BINARY_OPTIONS.get(builtin)
        self.ctx.op(builtin, [a.index, b.index], [out.index], options(kind) if kind else None)
        return out

    def add(self, a, b) -> T:
        return self.binary("ADD", a, b)

    def sub(self, a, b) -> T:
        return self.binary("SUB", a, b)

    def mul(self, a, b) -> T:
        return self.binary("MUL", a, b)

    def div(self, a, b) -> T:
        return self.binary("DIV", a, b)

    def unary(self, builtin: str, a: T) -> T:
        out = self.temp(a.shape, a.dtype, builtin.lower())
        self.ctx.op(builtin, [a.index], [out.index])
        return out

    def clamp(self, a: T, low: float, high: float) -> T:
        """min(max(a, low), high); a NaN becomes `low` (LiteRT's MAXIMUM keeps the second
        operand where the comparison fails), so an index made from it stays in range."""
        return self.binary("MINIMUM", self.binary("MAXIMUM", a, low), high)

    def select(self, condition: T, a: T | float, b: T | float) -> T:
        like = a if isinstance(a, T) else b
        a, b = self._operand(a, like), self._operand(b, like)
        shape = np.broadcast_shapes(condition.shape, a.shape, b.shape)
        out = self.temp(shape, a.dtype, "select")
        self.ctx.op("SELECT_V2", [condition.index, a.index, b.index], [out.index])
        return out

    def cast(self, a: T, dtype: Any) -> T:
        out = self.temp(a.shape, dtype, "cast")
        self.ctx.op("CAST", [a.index], [out.index])
        return out

    def reshape(self, a: T, shape) -> T:
        out = self.temp(shape, a.dtype, "reshape")
        target = [-1, *out.shape[1:]] if self.dynamic else list(out.shape)
        self.ctx.op("RESHAPE", [a.index, self.ctx.int32(target)], [out.index])
        return out

    def transpose(self, a: T, perm) -> T:
        out = self.temp([a.shape[p] for p in perm], a.dtype, "transpose")
        self.ctx.op("TRANSPOSE", [a.index, self.ctx.int32(list(perm))], [out.index])
        return out

    def take(self, a: T, axis: int, start: int, stop: int) -> T:
        """a[..., start:stop, ...] along `axis`."""
        begin = [0] * len(a.shape)
        end = list(a.shape)
        begin[axis], end[axis] = start, stop
        out = self.temp([e - b for b, e in zip(begin, end, strict=True)], a.dtype, "slice")
        whole = ((1 << len(a.shape)) - 1) & ~(1 << axis)  # the other dims: all of them
        self.ctx.op("STRIDED_SLICE", [a.index, self.ctx.int32(begin), self.ctx.int32(end),
                                      self.ctx.int32([1] * len(a.shape))], [out.index],
                    options("StridedSliceOptions", beginMask=whole, endMask=whole))
        return out

    def concat(self, parts: list[T], axis: int) -> T:
        if len(parts) == 1:
            return parts[0]
        shape = list(parts[0].shape)
        shape[axis] = sum(p.shape[axis] for p in parts)
        out = self.temp(shape, parts[0].dtype, "concat")
        self.ctx.op("CONCATENATION", [p.index for p in parts], [out.index],
                    options("ConcatenationOptions", axis=axis))
        return out

    def gather(self, params: T, indices: T, axis: int = 0, batch_dims: int = 0) -> T:
        shape = (*params.shape[:axis], *indices.shape[batch_dims:], *params.shape[axis + 1:])
        out = self.temp(shape, params.dtype, "gather")
        self.ctx.op("GATHER", [params.index, indices.index], [out.index],
                    options("GatherOptions", axis=axis, batchDims=batch_dims))
        return out

    def reduce(self, builtin: str, a: T, axis: int) -> T:
        shape = [d for i, d in enumerate(a.shape) if i != axis]
        out = self.temp(shape, a.dtype, builtin.lower())
        self.ctx.op(builtin, [a.index, self.ctx.int32([axis])], [out.index],
                    options("ReducerOptions", keepDims=False))
        return out

    def sum(self, a: T, axis: int) -> T:
        return self.reduce("SUM", a, axis)
