"""The pools TFLite's 2-D pool builtins cannot take: 3-D images, dilations, and ceil-mode
average windows that count the padding. Each tap of the window is one STRIDED_SLICE of the
padded image (every output position's tap at once), and the taps are combined:

    MaxPool:      PADV2 with float32's lowest, MAXIMUM of the taps
    AveragePool:  PAD with zeros, ADD of the taps, MUL by 1 / (the pixels each window counts)
    LpPool:       |x|^p (ABS, SQUARE, POW), PAD with zeros, ADD of the taps, then the root

What a window counts is ONNX's rule, per axis: the input pixels, and with
count_include_pad the explicit pads too, never the extra end padding ceil_mode asks for.
The image stays in the layout it is held in (NHWC for 2-D images, as the builtin path).
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import NHWC, EmitContext, attr, needed, static_shape
from graphkit.backends.tflite.lowering._conv import ROWS_LAST, same_pads

MAX_TAPS = 512  # two operators each
LOWEST_FLOAT32 = float(np.finfo(np.float32).min)


def taps_reason(node: ir.Node, values) -> str | None:
    """None where the pool can be written tap by tap; else why not."""
    shape = static_shape(values, node.inputs[0])
    out = static_shape(values, node.outputs[0])
    if shape is None or out is None or len(shape) not in (3, 4, 5) or len(out) != len(shape):
        return f"{node.op_type} tap by tap needs static input and output shapes of rank 3 to 5"
    if len(node.outputs) > 1 and needed(node.outputs[1]):
        return "MaxPool's Indices output has no TFLite builtin"
    if values.dtype(node.inputs[0]) not in (ir.DataType.FLOAT, ir.DataType.FLOAT16):
        return f"{node.op_type} tap by tap is lowered for float32 (float16 widened) only"
    if attr(node, "storage_order", 0):
        return "MaxPool with storage_order=1 is not lowered"
    taps = int(np.prod(attr(node, "kernel_shape")))
    if taps > MAX_TAPS:
        return f"{node.op_type} with {taps} taps a window: graphkit reads at most {MAX_TAPS}"
    return size_reason(node, shape, out)


def size_reason(node: ir.Node, shape, out) -> str | None:
    """None where the output's spatial dims are the ones ONNX's pooling rule gives (ONNX's
    shape inference keeps a ceil_mode window that starts in the end padding, which ONNX
    Runtime and onnx's reference drop: such a model is refused, not guessed)."""
    kernel, strides, dilations, pads = _geometry(node, tuple(shape[2:]))
    sizes = [pooled_size(*axis, bool(attr(node, "ceil_mode", 0)))
             for axis in zip(shape[2:], kernel, strides, dilations, pads)]
    if list(out[2:]) != sizes:
        return f"{node.op_type}'s output has spatial dims {list(out[2:])}, ONNX's pooling " \
            f"rule gives {sizes} (a ceil_mode window starting in the end padding is dropped)"
    return None


def _powered(ctx: EmitContext, source: int, shape: list[int], p: int) -> int:
    """|x|^p: ABS (p 1), SQUARE (p 2), else ABS then POW."""
    powered = ctx.temp("lp_abs", np.float32, shape)
    ctx.op("SQUARE" if p == 2 else "ABS", [source], [powered])
    if p <= 2:
        return powered
    raised = ctx.temp("lp_pow", np.float32, shape)
    ctx.op("POW", [powered, ctx.const(np.asarray(p, np.float32))], [raised])
    return raised


def pooled_size(size: int, k: int, s: int, d: int, pads: list[int], ceil: bool) -> int:
    """The output's length along one axis: windows from the padded start, by stride, that
    fit (ceil_mode: that start before the end padding)."""
    span = size + pads[0] + pads[1] - ((k - 1) * d + 1)
    count = (-(-span // s) if ceil else span // s) + 1
    if ceil and (count - 1) * s >= size + pads[0]:
        count -= 1
    return count


def _geometry(node: ir.Node, size: tuple[int, ...]):
    """(kernel, strides, dilations, [begin, end] pads per spatial axis as ONNX gives them)."""
    kernel = list(attr(node, "kernel_shape"))
    count = len(kernel)
    strides = list(attr(node, "strides") or [1] * count)
    dilations = list(attr(node, "dilations") or [1] * count)
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return kernel, strides, dilations, [[0, 0]] * count
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        same = same_pads(size, kernel, strides, dilations)
        pads = same if auto_pad == "SAME_UPPER" else [[b, a] for a, b in same]
        return kernel, strides, dilations, pads
    given = list(attr(node, "pads") or [0] * 2 * count)
    return kernel, strides, dilations, [[given[i], given[i + count]] for i in range(count)]


def counted(size: int, out: int, k: int, s: int, d: int, pads: list[int],
             with_pads: bool) -> np.ndarray:
    """Per output position along one axis, the taps its window counts."""
    starts = np.arange(out)[:, None] * s - pads[0]
    taps = starts + np.arange(k)[None, :] * d
    low, high = (-pads[0], size + pads[1]) if with_pads else (0, size)
    return ((taps >= low) & (taps < high)).sum(axis=1)


def emit_pool_taps(ctx: EmitContext, node: ir.Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    maximum = node.op_type == "MaxPool"
    shape, out = ctx.shape(x), ctx.shape(y)
    rank = len(shape)
    perm = {3: ROWS_LAST, 4: NHWC}.get(rank)
    held = list(perm or range(rank))  # held axis j holds ONNX axis held[j]
    kernel, strides, dilations, pads = _geometry(node, tuple(shape[2:]))
    # pad each spatial axis to the end of its last window (ceil_mode may reach past pads)
    reach = [(o - 1) * s + (k - 1) * d + 1
             for o, k, s, d in zip(out[2:], kernel, strides, dilations)]
    ends = [max(r - size - p[0], 0) for r, size, p in zip(reach, shape[2:], pads)]
    amounts = np.zeros((rank, 2), np.int32)
    for axis, (p, end) in enumerate(zip(pads, ends)):
        amounts[held.index(axis + 2)] = [p[0], end]
    padded_shape = [shape[a] + (int(amounts[j].sum())) for j, a in enumerate(held)]
    source = ctx.input(x, perm)
    p = attr(node, "p", 2) if node.op_type == "LpPool" else None
    if p is not None:
        source = _powered(ctx, source, [shape[a] for a in held], p)
    if amounts.any():
        padded = ctx.temp("pool_padded", np.float32, padded_shape)
        fill = LOWEST_FLOAT32 if maximum else 0.0
        ctx.op("PADV2", [source, ctx.const(amounts), ctx.const(np.asarray(fill, np.float32))],
               [padded])
        source = padded
    out_held = [out[a] for a in held]
    combined = None
    for offsets in itertools.product(*(range(k) for k in kernel)):
        begin, end, step = [0] * rank, list(padded_shape), [1] * rank
        for axis, (i, d, s, o) in enumerate(zip(offsets, dilations, strides, out[2:])):
            j = held.index(axis + 2)
            begin[j], end[j], step[j] = i * d, i * d + (o - 1) * s + 1, s
        tap = ctx.temp("pool_tap", np.float32, out_held)
        ctx.op("STRIDED_SLICE", [source, ctx.int32(begin), ctx.int32(end), ctx.int32(step)],
               [tap], options("StridedSliceOptions"))
        if combined is not None:
            joined = ctx.temp("pool_acc", np.float32, out_held)
            ctx.op("MAXIMUM" if maximum else "ADD", [combined, tap], [joined],
                   None if maximum else options("AddOptions"))
            tap = joined
        combined = tap
    result = ctx.output(y, perm)
    if maximum or p == 1:
        ctx.op("RESHAPE", [combined, ctx.int32(out_held)], [result])
        return
    if p is not None:  # the root of the window's sum
        if p == 2:
            ctx.op("SQRT", [combined], [result])
        else:
            ctx.op("POW", [combined, ctx.const(np.asarray(1.0 / p, np.float32))], [result])
        return
    include = bool(attr(node, "count_include_pad", 0))
    counts = [counted(size, o, k, s, d, p, include) for size, o, k, s, d, p
              in zip(shape[2:], out[2:], kernel, strides, dilations, pads)]
    grid = np.ones([1] * 2, np.float64)
    for axis_counts in counts:
        grid = grid[..., None] * axis_counts.reshape([1] * grid.ndim + [-1])
    with np.errstate(divide="ignore"):  # a window of padding only: 0 / 0, as ONNX's NaN
        factor = (1.0 / grid).astype(np.float32)  # [1, 1, *out spatial] in ONNX order
    factor = np.transpose(factor, held)
    ctx.op("MUL", [combined, ctx.const(factor)], [result], options("MulOptions"))
