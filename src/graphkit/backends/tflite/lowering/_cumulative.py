"""CumProd as an exact scan: TFLite has CUMSUM only, and exp(cumsum(log x)) is wrong for
zeros and negative numbers.

Hillis-Steele over an axis of static length n: ceil(log2 n) steps of
    y = y * PADV2(y[:n-d], d ones in front)        d = 1, 2, 4, ...
after which y[i] is the product of x[0..i]. exclusive shifts x by one first (a one in
front, its last element dropped); reverse runs the scan on REVERSE_V2(x) and reverses
back. Integers wrap as ONNX Runtime's do: a product modulo 2^bits does not depend on the
order of its factors.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    NUMERIC,
    EmitContext,
    Lowering,
    attr,
    entry,
    known,
    rank,
)


def _axis(node: ir.Node, values) -> int | None:
    """The axis when converting (None: only the run knows it)."""
    given = known(node.inputs[1], values)
    if given is None:
        return None
    return int(np.asarray(given).reshape(-1)[0]) % rank(values, node.inputs[0])


def check_cumprod(node: ir.Node, values) -> str | None:
    shape = values.shape(node.inputs[0])
    if shape is None or not shape:
        return "CumProd needs the input's rank (1 or more)"
    axis = _axis(node, values)
    lengths = [shape[axis]] if axis is not None else shape
    if not all(isinstance(d, int) for d in lengths):
        return "CumProd needs a static length along its axis (every axis where the axis " \
            "is given at run time)"
    return None


class _Scan:
    """Temporaries of the input's shape, one builtin each."""

    def __init__(self, ctx: EmitContext, node: ir.Node) -> None:
        self.ctx = ctx
        self.dtype = ctx.dtype(node.inputs[0])
        self.shape = ctx.shape_or_none(node.inputs[0])
        self.one = ctx.const(np.ones((), self.dtype))
        self.reverse = bool(attr(node, "reverse", 0))
        self.exclusive = bool(attr(node, "exclusive", 0))

    def temp(self, name: str) -> int:
        return self.ctx.temp(name, self.dtype, self.shape)

    def shifted(self, tensor: int, axis: int, by: int) -> int:
        """tensor moved `by` places along the axis, ones coming in at the front."""
        size = [-1] * len(self.shape)
        size[axis] = self.shape[axis] - by
        kept_shape = list(self.shape)
        kept_shape[axis] = self.shape[axis] - by
        kept = self.ctx.temp("kept", self.dtype, kept_shape)
        self.ctx.op("SLICE", [tensor, self.ctx.int32([0] * len(self.shape)),
                              self.ctx.int32(size)], [kept])
        pads = np.zeros((len(self.shape), 2), np.int32)
        pads[axis, 0] = by
        out = self.temp("shifted")
        self.ctx.op("PADV2", [kept, self.ctx.const(pads, "pads"), self.one], [out])
        return out

    def reversed(self, tensor: int, axis: int, out: int | None = None) -> int:
        out = self.temp("reversed") if out is None else out
        self.ctx.op("REVERSE_V2", [tensor, self.ctx.int32([axis])], [out])
        return out

    def along(self, x: int, axis: int, out: int) -> None:
        """The scan of x along the axis, written to out."""
        length = self.shape[axis]
        y = self.reversed(x, axis) if self.reverse else x
        if self.exclusive and length > 0:
            y = self.shifted(y, axis, 1)
        distance = 1
        while distance < length:
            product = self.temp("product")
            self.ctx.op("MUL", [y, self.shifted(y, axis, distance)], [product],
                        options("MulOptions"))
            y, distance = product, distance * 2
        if self.reverse:
            self.reversed(y, axis, out)
        else:
            self.ctx.op("MUL", [y, self.one], [out], options("MulOptions"))


def emit_cumprod(ctx: EmitContext, node: ir.Node) -> None:
    scan = _Scan(ctx, node)
    x = ctx.input(node.inputs[0])
    out = ctx.output(node.outputs[0])
    axis = _axis(node, ctx.values)
    axes = len(scan.shape)
    if axis is not None or axes == 1:
        scan.along(x, axis or 0, out)
        return
    # the axis at run time: every axis's scan, the one asked for chosen
    scans = {}
    for index in range(axes):
        scans[index] = scan.temp(f"scan{index}")
        scan.along(x, index, scans[index])
    choose_by_axis(ctx, node.inputs[1], axes, scans, out, (scan.dtype, scan.shape))


def choose_by_axis(ctx: EmitContext, given: ir.Value, rank_: int, results: dict[int, int],
                   out: int, kind_shape: tuple) -> None:
    """out = results[given mod rank_], the axis known only when the model runs: SELECT_V2
    on EQUAL of the wrapped axis, one per candidate (the first is the fallback)."""
    kind = ctx.dtype(given)
    flat = ctx.temp("axis_scalar", kind, [])
    ctx.op("RESHAPE", [ctx.input(given), ctx.int32([])], [flat])
    wrapped = ctx.temp("axis", kind, [])
    ctx.op("FLOOR_MOD", [flat, ctx.const(np.asarray(rank_, kind))], [wrapped])
    axes = sorted(results)
    chosen = results[axes[0]]
    for number, axis in enumerate(axes[1:], start=2):
        hit = ctx.temp("is_axis", np.bool_, [])
        ctx.op("EQUAL", [wrapped, ctx.const(np.asarray(axis, kind))], [hit])
        target = out if number == len(axes) else ctx.temp("chosen", *kind_shape)
        ctx.op("SELECT_V2", [hit, results[axis], chosen], [target])
        chosen = target


def entries() -> dict[str, list[Lowering]]:
    builtins = ("SLICE", "PADV2", "MUL", "REVERSE_V2", "RESHAPE", "FLOOR_MOD", "EQUAL",
                "SELECT_V2")
    return {"CumProd": [entry(builtins, emit_cumprod, dtypes=NUMERIC, check=check_cumprod,
                              since=26)]}
