"""RoiAlign with a fixed sampling_ratio: every bin of every RoI samples s x s points.

Per RoI (its box scaled by spatial_scale, less 0.5 for half_pixel), bin (ph, pw) and
sample (iy, ix), as onnx's reference and ONNX Runtime compute it in float32:
  y = start_h + ph * bin_h + ((iy + 0.5) * bin_h) / s        (x alike)
  a point with y < -1 or y > H (or x alike) weighs 0 and reads pixel 0;
  y = max(y, 0); low = floor(y), high = low + 1, but low = high = y = H - 1 from H - 1 on;
  taps (low, high) weigh (1 - (y - low), y - low) on each axis, their products on both.
avg: the sum over samples of the weighted taps, divided by s * s; max: the maximum over
samples and taps of each weighted tap (ONNX Runtime's max, which onnx's reference copies).
The taps are read by one GATHER from the image of each RoI's batch index.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import (
    NHWC,
    EmitContext,
    Lowering,
    attr,
    entry,
    rank,
    static_shape,
)
from graphkit.backends.tflite.lowering._calc import Calc, T
from graphkit.backends.tflite.lowering._grid import Taps, combine, pixel_table, read_taps

MAX_READ = 1 << 24  # samples x taps x channels read by the one GATHER


def _mode(node: ir.Node) -> str:
    return attr(node, "mode", "avg")


def check_roi_align(node: ir.Node, values) -> str | None:
    if _mode(node) not in ("avg", "max"):
        return f"RoiAlign mode '{_mode(node)}' is not one of avg, max"
    shape, rois = static_shape(values, node.inputs[0]), values.shape(node.inputs[1])
    if shape is None or len(shape) != 4 or rois is None or len(rois) != 2 or rois[1] != 4:
        return "RoiAlign needs a static X shape [N, C, H, W] and rois of shape [R, 4]"
    if rank(values, node.inputs[2]) != 1:
        return "RoiAlign needs batch_indices of shape [R]"
    ratio = attr(node, "sampling_ratio", 0)
    if ratio <= 0:
        return "RoiAlign with sampling_ratio 0 (samples per bin set by each RoI's size at " \
            "run time) is not lowered"
    height, width = attr(node, "output_height", 1), attr(node, "output_width", 1)
    if min(height, width) < 1:
        return "RoiAlign's output_height and output_width must be at least 1"
    count = rois[0] if isinstance(rois[0], int) else 1  # how many at run time: not bounded
    if count * height * width * ratio * ratio * 4 * shape[1] > MAX_READ:
        return f"RoiAlign reading over {MAX_READ} taps is not lowered"
    return None


def _axis(calc: Calc, start: T, end: T, bins: int, ratio: int, half_pixel: bool) -> T:
    """The sample coordinates along one axis, [R, bins * ratio]."""
    extent = calc.sub(end, start)
    if not half_pixel:
        extent = calc.binary("MAXIMUM", extent, 1.0)
    step = calc.div(extent, float(bins))  # [R, 1]
    whole = calc.add(start, calc.mul(step, calc.const(np.arange(bins).repeat(ratio)[None])))
    part = calc.div(calc.mul(step, calc.const(np.tile(np.arange(ratio) + 0.5, bins)[None])),
                    float(ratio))
    return calc.add(whole, part)


def _within(calc: Calc, coord: T, size: int) -> T:
    return calc.binary("LOGICAL_AND", calc.binary("GREATER_EQUAL", coord, -1.0),
                       calc.binary("LESS_EQUAL", coord, float(size)))


def _axis_taps(calc: Calc, coord: T, size: int) -> Taps:
    """[R, P, 1] coordinates -> their two taps (RoiAlign's rule at the far edge)."""
    coord = calc.binary("MAXIMUM", coord, 0.0)
    low = calc.unary("FLOOR", coord)
    edge = calc.binary("GREATER_EQUAL", low, size - 1.0)
    low = calc.select(edge, size - 1.0, low)
    fraction = calc.sub(calc.select(edge, low, coord), low)
    high = calc.binary("MINIMUM", calc.add(low, 1.0), size - 1.0)
    index = calc.cast(calc.concat([low, high], 2), np.int32)
    return Taps(index, calc.concat([calc.sub(1.0, fraction), fraction], 2), None)


def emit_roi_align(since: int):
    # opset 10 had no coordinate_transformation_mode: its boxes are output_half_pixel
    default = "half_pixel" if since >= 16 else "output_half_pixel"
    return lambda ctx, node: _emit(ctx, node, default)


def _emit(ctx: EmitContext, node: ir.Node, default_mode: str) -> None:
    x, rois, batch_indices = node.inputs
    count = ctx.values.shape(rois)[0]
    calc = Calc(ctx, dynamic=not isinstance(count, int))  # R known at run time only
    count = count if isinstance(count, int) else 1
    shape = ctx.shape(x)
    channels, height, width = shape[1:]
    bins_h, bins_w = attr(node, "output_height", 1), attr(node, "output_width", 1)
    ratio = attr(node, "sampling_ratio", 0)
    half_pixel = attr(node, "coordinate_transformation_mode", default_mode) == "half_pixel"
    box = calc.mul(calc.tensor(ctx.input(rois), (count, 4), np.float32),
                   float(attr(node, "spatial_scale", 1.0)))
    if half_pixel:
        box = calc.sub(box, 0.5)
    corner = [calc.take(box, 1, i, i + 1) for i in range(4)]  # x1, y1, x2, y2: [R, 1]
    rows, columns = bins_h * ratio, bins_w * ratio
    zeros = calc.const(np.zeros((1, rows, columns)))

    def spread(value: T, where: tuple[int, int]) -> T:
        """[R, n] along rows or columns -> [R, rows * columns, 1] (adding 0 is exact)."""
        grid = calc.add(calc.reshape(value, [count, *where]), zeros)
        return calc.reshape(grid, [count, rows * columns, 1])

    ys = spread(_axis(calc, corner[1], corner[3], bins_h, ratio, half_pixel), (rows, 1))
    xs = spread(_axis(calc, corner[0], corner[2], bins_w, ratio, half_pixel), (1, columns))
    taps = combine(calc, _axis_taps(calc, ys, height), _axis_taps(calc, xs, width), width)
    inside = calc.binary("LOGICAL_AND", _within(calc, ys, height), _within(calc, xs, width))
    taps = Taps(calc.select(inside, taps.index, 0), calc.select(inside, taps.weight, 0.0), None)
    batch = calc.tensor(ctx.input(batch_indices), (count,), ctx.dtype(batch_indices))
    batch = calc.reshape(calc.cast(calc.clamp(batch, 0, shape[0] - 1), np.int32), [count, 1, 1])
    table = pixel_table(calc, ctx.input(x, NHWC), shape)
    read = read_taps(calc, table, height * width, taps, batch)  # [R, P, 4, C]
    pooled = _pool(calc, read, _mode(node), (count, bins_h, bins_w), ratio)
    ctx.op("RESHAPE", [pooled.index, ctx.int32([-1, bins_h, bins_w, channels])],
           [ctx.output(node.outputs[0], NHWC)])


def _pool(calc: Calc, read: T, mode: str, bins: tuple[int, int, int], ratio: int) -> T:
    """[R, P, 4, C] weighted taps, P = (ph, iy, pw, ix) -> [R * OH, OW * C]: over each
    bin's samples and taps, their sum / (ratio * ratio) (avg) or their maximum (max)."""
    count, bins_h, bins_w = bins
    channels = read.shape[-1]
    reduce = "SUM" if mode == "avg" else "REDUCE_MAX"
    per_row = calc.reshape(read, [count * bins_h * ratio * bins_w, ratio * 4, channels])
    rows = calc.reshape(calc.reduce(reduce, per_row, 1), [count * bins_h, ratio,
                                                          bins_w * channels])
    pooled = calc.reduce(reduce, rows, 1)
    return calc.div(pooled, float(ratio * ratio)) if mode == "avg" else pooled


def entries() -> dict[str, list[Lowering]]:
    builtins = ("MUL", "SUB", "ADD", "DIV", "MAXIMUM", "MINIMUM", "FLOOR", "GREATER_EQUAL",
                "LESS_EQUAL", "LOGICAL_AND", "SELECT_V2", "CAST", "CONCATENATION",
                "STRIDED_SLICE", "RESHAPE", "GATHER", "SUM", "REDUCE_MAX", "TRANSPOSE")
    return {"RoiAlign": [entry(builtins, emit_roi_align(since), dtype_inputs=(0, 1),
                               check=check_roi_align, since=since) for since in (10, 16)]}
