"""GridSample and AffineGrid.

GridSample, per spatial dim of size d (the grid's last axis holds them reversed: x first):
  x = ((g + 1) / 2) * (d - 1)              align_corners=1
  x = ((g + 1) * d - 1) / 2                align_corners=0
  nearest: x = ROUND(x) (half to even, as onnx's reference and torch round)
  x outside [lo, hi] (lo, hi = 0, d-1 or -0.5, d-0.5): border clamps it to [0, d-1],
  reflection reflects it into [lo, hi] (onnx's formula); cubic clamps only its taps, as
  torch and ONNX Runtime do (onnx's reference evaluator clamps x too, and differs from
  both where x is outside; reflecting x first changes nothing, the mirrored image being
  symmetric about lo and hi);
then its taps: x itself (nearest), FLOOR(x) + {0, 1} with weights 1-f, f (linear), or
FLOOR(x) + {-1, 0, 1, 2} with Keys' cubic weights, A = -0.75 (cubic). A tap outside
[0, d-1] reads 0 (zeros), the nearest edge (border) or its reflection (reflection). The
taps of all dims combine into flat indices of the image's pixels, one GATHER reads them,
and the weighted sum over the taps is the output: [N, C, *grid's spatial dims].

AffineGrid: its base grid (the homogeneous coordinates (x, y[, z], 1) of every output
pixel) is a constant once the spatial size is known (the size input, or the output's
static shape), so the output is one BATCH_MATMUL of it with theta transposed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    entry,
    known,
    static_but_batch,
    static_shape,
)
from graphkit.backends.tflite.lowering._calc import Calc, T

CUBIC_A = -0.75
PADDING_MODES = ("zeros", "border", "reflection")
# opset 16 names the modes after torch's 2-D ones; opset 20 made them N-D
MODES = {16: {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"},
         20: {"linear": "linear", "nearest": "nearest", "cubic": "cubic"}}
MAX_GATHERED = 1 << 24  # output pixels x taps x channels read by the one GATHER


def channels_last(rank_: int) -> tuple[int, ...]:
    return (0, *range(2, rank_), 1)


# GridSample ----------------------------------------------------------------------------

def check_grid_sample(since: int):
    def check(node: ir.Node, values) -> str | None:
        mode = attr(node, "mode", "bilinear" if since == 16 else "linear")
        if mode not in MODES[since]:
            return (f"GridSample mode '{mode}' is not one of {sorted(MODES[since])} "
                    f"(the names from opset {since} on)")
        padding = attr(node, "padding_mode", "zeros")
        if padding not in PADDING_MODES:
            return f"GridSample padding_mode '{padding}' is not one of {list(PADDING_MODES)}"
        shape = static_but_batch(values, node.inputs[0])
        grid = static_but_batch(values, node.inputs[1])
        if shape is None or grid is None:
            return "GridSample needs static input and grid shapes (but for the batch)"
        if len(shape) < 3 or len(grid) != len(shape) or grid[-1] != len(shape) - 2:
            return "GridSample's grid must be [N, *spatial, r] for an input of r spatial dims"
        if MODES[since][mode] == "cubic" and len(shape) != 4:
            return "GridSample cubic is defined for 4-D input only"
        taps = {"nearest": 1, "linear": 2, "cubic": 4}[MODES[since][mode]] ** (len(shape) - 2)
        if np.prod(grid[:-1]) * taps * shape[1] > MAX_GATHERED:
            return f"GridSample reading over {MAX_GATHERED} taps is not lowered"
        return None

    return check


def emit_grid_sample(since: int):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        mode = MODES[since][attr(node, "mode", "bilinear" if since == 16 else "linear")]
        padding = attr(node, "padding_mode", "zeros")
        align = bool(attr(node, "align_corners", 0))
        image, grid = node.inputs
        shape = ctx.image_shape(image)  # the batch as 1 where it is dynamic
        grid_shape = static_but_batch(ctx.values, grid)
        calc = Calc(ctx, dynamic=static_shape(ctx.values, image) is None)
        batch, spatial, rank_ = shape[0], shape[2:], len(shape) - 2
        points = int(np.prod(grid_shape[1:-1]))
        coords = calc.reshape(calc.tensor(ctx.input(grid), grid_shape, np.float32),
                              [batch, points, rank_])
        taps = None
        for axis, size in enumerate(spatial):
            coord = calc.take(coords, 2, rank_ - 1 - axis, rank_ - axis)  # [N, P, 1]
            taps = combine(calc, taps, _axis_taps(calc, coord, size, mode, padding, align), size)
        table = pixel_table(calc, ctx.input(image, channels_last(len(shape))), shape)
        sampled = gather_taps(calc, table, int(np.prod(spatial)), taps)
        out = node.outputs[0]
        held = ctx.output(out, channels_last(len(shape)))
        ctx.op("RESHAPE", [sampled.index, ctx.int32([-1, *grid_shape[1:-1], shape[1]])], [held])

    return emit


@dataclass(frozen=True)
class Taps:
    """The taps of every output point: flat pixel indices [N, P, T] (int32), their
    weights (None: one tap of weight 1) and whether each lies inside (None: all do)."""
    index: T
    weight: T | None
    inside: T | None


def combine(calc: Calc, before: Taps | None, axis: Taps, size: int) -> Taps:
    """The taps of the dims so far and of the next one (of `size` pixels): every pair,
    its index before * size + index, its weight the product."""
    if before is None:
        return axis
    n, p, t0 = before.index.shape
    t1 = axis.index.shape[2]

    def pairs(builtin: str, a: T | None, b: T | None) -> T | None:
        if a is None or b is None:
            return a if b is None else b
        both = calc.binary(builtin, calc.reshape(a, [n, p, t0, 1]), calc.reshape(b, [n, p, 1, t1]))
        return calc.reshape(both, [n, p, t0 * t1])

    scaled = Taps(calc.mul(before.index, size), before.weight, before.inside)
    index = pairs("ADD", scaled.index, axis.index)
    return Taps(index, pairs("MUL", before.weight, axis.weight),
                pairs("LOGICAL_AND", before.inside, axis.inside))


def pixel_table(calc: Calc, image: int, shape: tuple[int, ...]) -> T:
    """[N * pixels, C]: the image held channels last ([N, *spatial, C]), one row a pixel."""
    pixels = int(np.prod(shape[2:]))
    held = calc.tensor(image, (shape[0], *shape[2:], shape[1]), np.float32)
    return calc.reshape(held, [shape[0] * pixels, shape[1]])


def read_taps(calc: Calc, table: T, pixels: int, taps: Taps, batch: T | None = None) -> T:
    """[N, P, T, C]: each tap's pixel, weighted; point n reads image n (GATHER with one
    batch dim), or image batch[n] where given ([N, 1, 1] int32: rows batch[n] * pixels on
    of the table). A tap outside reads 0, whatever the pixel it was clamped to holds."""
    n, p, t = taps.index.shape
    if batch is None:
        images = calc.reshape(table, [n, pixels, table.shape[1]])
        read = calc.gather(images, calc.reshape(taps.index, [n, p * t]), axis=1, batch_dims=1)
    else:
        flat = calc.reshape(calc.add(taps.index, calc.mul(batch, pixels)), [n * p * t])
        read = calc.gather(table, flat)
    read = calc.reshape(read, [n, p, t, table.shape[1]])
    if taps.inside is not None:
        read = calc.select(calc.reshape(taps.inside, [n, p, t, 1]), read, 0.0)
    if taps.weight is not None:
        read = calc.mul(read, calc.reshape(taps.weight, [n, p, t, 1]))
    return read


def gather_taps(calc: Calc, table: T, pixels: int, taps: Taps) -> T:
    """[N, P, C]: the weighted sum of each point's taps (read_taps)."""
    n, p, t = taps.index.shape
    read = read_taps(calc, table, pixels, taps)
    return calc.sum(read, 2) if t > 1 or taps.weight is not None else \
        calc.reshape(read, [n, p, table.shape[1]])


def _axis_taps(calc: Calc, g: T, size: int, mode: str, padding: str, align: bool) -> Taps:
    low, high = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
    if align:
        x = calc.mul(calc.mul(calc.add(g, 1.0), 0.5), float(size - 1))
    else:
        x = calc.mul(calc.sub(calc.mul(calc.add(g, 1.0), float(size)), 1.0), 0.5)
    if mode == "nearest":
        x = calc.unary("ROUND", x)
    if padding == "border" and mode != "cubic":
        outside = calc.binary("LOGICAL_OR", calc.binary("LESS", x, low),
                              calc.binary("GREATER", x, high))
        x = calc.select(outside, calc.clamp(x, 0.0, size - 1.0), x)
    elif padding == "reflection":
        x = reflect(calc, x, low, high)
    return taps_at(calc, x, size, mode, padding, low, high)


def taps_at(calc: Calc, x: T, size: int, mode: str, padding: str, low: float,
            high: float) -> Taps:
    """The taps of pixel coordinates x ([N, P, 1]) along an axis of `size` pixels."""
    if mode == "nearest":
        positions, weight = x, None
    else:
        start = calc.unary("FLOOR", x)
        fraction = calc.sub(x, start)
        if mode == "linear":
            positions = calc.add(start, calc.const([0.0, 1.0]))
            weight = calc.concat([calc.sub(1.0, fraction), fraction], 2)
        else:
            positions = calc.add(start, calc.const([-1.0, 0.0, 1.0, 2.0]))
            weight = cubic_weights(calc, fraction)
    return lookup(calc, positions, weight, size, padding, low, high)


def lookup(calc: Calc, positions: T, weight: T | None, size: int, padding: str,
           low: float, high: float) -> Taps:
    """Pixel indices for tap positions (whole numbers, possibly outside the image)."""
    inside = None
    if padding == "zeros":
        inside = calc.binary("LOGICAL_AND", calc.binary("GREATER_EQUAL", positions, 0.0),
                             calc.binary("LESS_EQUAL", positions, size - 1.0))
    elif padding == "reflection":
        positions = reflect(calc, positions, low, high)
    index = calc.cast(calc.clamp(positions, 0.0, size - 1.0), np.int32)
    return Taps(index, weight, inside)


def reflect(calc: Calc, x: T, low: float, high: float) -> T:
    """onnx's reflection of x into [low, high] (x inside is kept):
    dx = low - x (below) or x - high (above), n = floor(dx / span), r = dx - n * span;
    below: low + r where n is even, high - r where odd; above: the other way round."""
    span = high - low
    if span == 0:  # one pixel, align_corners: every coordinate reflects onto it
        return calc.const(np.zeros(x.shape))
    below, above = calc.binary("LESS", x, low), calc.binary("GREATER", x, high)
    dx = calc.select(below, calc.sub(low, x), calc.sub(x, high))
    n = calc.unary("FLOOR", calc.div(dx, span))
    r = calc.sub(dx, calc.mul(n, span))
    odd = calc.binary("NOT_EQUAL", n, calc.mul(calc.unary("FLOOR", calc.mul(n, 0.5)), 2.0))
    from_low = calc.binary("NOT_EQUAL", below, odd)
    reflected = calc.select(from_low, calc.add(r, low), calc.sub(high, r))
    return calc.select(calc.binary("LOGICAL_OR", below, above), reflected, x)


def cubic_weights(calc: Calc, t: T) -> T:
    """Keys' weights of the taps at distances t+1, t, 1-t, 2-t, each as onnx writes it:
    far taps ((A u - 5A) u + 8A) u - 4A, near taps ((A+2) u - (A+3)) u u + 1."""
    u = calc.add(calc.mul(t, calc.const([1.0, 1.0, -1.0, -1.0])), calc.const([1.0, 0.0, 1.0, 2.0]))
    a = CUBIC_A
    far, near = (a, -5 * a, 8 * a, -4 * a), (a + 2, -(a + 3), 0.0, 1.0)
    c3, c2, c1, c0 = (calc.const([f, n, n, f]) for f, n in zip(far, near, strict=True))
    return calc.add(calc.mul(calc.add(calc.mul(calc.add(calc.mul(u, c3), c2), u), c1), u), c0)


# AffineGrid ----------------------------------------------------------------------------

def _spatial_size(node: ir.Node, values) -> list[int] | None:
    size = known(node.inputs[1], values)
    if size is not None:
        return [int(d) for d in size[2:]]
    out = static_but_batch(values, node.outputs[0])
    return None if out is None else list(out[1:-1])


def check_affine_grid(node: ir.Node, values) -> str | None:
    theta = values.shape(node.inputs[0])
    if theta is None or len(theta) != 3 or theta[1:] not in ([2, 3], [3, 4], (2, 3), (3, 4)):
        return "AffineGrid needs theta of static shape [N, 2, 3] or [N, 3, 4]"
    spatial = _spatial_size(node, values)
    if spatial is None:
        return "AffineGrid needs a constant size or a static output shape"
    if len(spatial) != theta[1]:
        return "AffineGrid's size does not match theta's shape"
    if min(spatial) < 1:
        return "AffineGrid of an empty size is not lowered"
    if attr(node, "align_corners", 0) and 1 in spatial:
        return ("AffineGrid with a side of 1 with align_corners=1 is not lowered: onnx's "
                "reference, ONNX Runtime and torch put its one point at -1, 1 and 0")
    return None


def base_grid(spatial: list[int], align: bool) -> np.ndarray:
    """[prod(spatial), r + 1]: (x, y[, z], 1) of every pixel, x the last spatial dim,
    each axis's values as onnx's reference makes them (np.arange, in float64)."""
    axes = []
    for size in spatial:  # no side of 1 with align_corners (check_affine_grid)
        if align:
            values = np.arange(-1, 1 + 0.0001, 2.0 / (size - 1))
        else:
            step = 2.0 / size
            values = np.arange(-1 + step / 2, 1, step)
        axes.append(values[:size])
    mesh = np.meshgrid(*axes, indexing="ij")
    columns = [m.reshape(-1) for m in reversed(mesh)]
    return np.stack([*columns, np.ones_like(columns[0])], axis=1)


def emit_affine_grid(ctx: EmitContext, node: ir.Node) -> None:
    theta, out = node.inputs[0], node.outputs[0]
    spatial = _spatial_size(node, ctx.values)
    rank_ = len(spatial)
    base = base_grid(spatial, bool(attr(node, "align_corners", 0))).astype(np.float32)
    points = base.shape[0]
    batch = ctx.values.shape(theta)[0]
    batch = batch if isinstance(batch, int) else -1
    product = ctx.temp("affine", np.float32, [max(batch, 1), points, rank_])
    ctx.op("BATCH_MATMUL", [ctx.const(base[None]), ctx.input(theta)], [product],
           options("BatchMatMulOptions", adjY=True))
    ctx.op("RESHAPE", [product, ctx.int32([batch, *spatial, rank_])], [ctx.output(out)])


def entries() -> dict[str, list[Lowering]]:
    sampling = ("RESHAPE", "STRIDED_SLICE", "ADD", "SUB", "MUL", "DIV", "ROUND", "FLOOR",
                "LESS", "GREATER", "LESS_EQUAL", "GREATER_EQUAL", "NOT_EQUAL", "LOGICAL_AND",
                "LOGICAL_OR", "SELECT_V2", "MAXIMUM", "MINIMUM", "CAST", "CONCATENATION",
                "TRANSPOSE", "GATHER", "SUM")
    return {
        "GridSample": [entry(sampling, emit_grid_sample(since), dtype_inputs=(0, 1),
                             check=check_grid_sample(since), since=since) for since in (16, 20)],
        "AffineGrid": [entry(("BATCH_MATMUL", "RESHAPE"), emit_affine_grid,
                             check=check_affine_grid, since=20)],
    }
