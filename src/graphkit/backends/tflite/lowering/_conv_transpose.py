"""ConvTranspose as TRANSPOSE_CONV in NHWC: 1-D on images of height 1, groups as SPLIT +
TRANSPOSE_CONV + CONCATENATION, weights and bias constant or given at run time.

TRANSPOSE_CONV writes the whole canvas every input pixel reaches (VALID: no padding);
ONNX's output is a window of it, which starts `begin` pixels in (its pads, or what
auto_pad and output_shape make of them) and may reach past the canvas's end, where only
the bias lands (output_padding): the canvas is made that large and the window SLICEd.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import PADDING, options
from graphkit.backends.tflite.lowering._base import (
    NHWC,
    EmitContext,
    Lowering,
    attr,
    entry,
    static_but_batch,
)
from graphkit.backends.tflite.lowering._conv import (
    ROWS_LAST,
    _bias_parts,
    _filters,
    _parts,
    check_conv,
    height_one,
)


def window(node: ir.Node, size: tuple[int, ...], kernel: tuple[int, ...],
           ) -> tuple[list[int], list[int]] | str:
    """(begin, output size) per spatial axis, as ONNX defines them; else why not lowered."""
    spatial = len(size)
    strides = list(attr(node, "strides") or [1] * spatial)
    extra = list(attr(node, "output_padding") or [0] * spatial)
    auto_pad = attr(node, "auto_pad", "NOTSET")
    given = attr(node, "output_shape")
    natural = [(n - 1) * s + k + e for n, s, k, e in zip(size, strides, kernel, extra)]
    if given is None and auto_pad in {"NOTSET", "VALID"}:
        pads = list(attr(node, "pads") or [0] * 2 * spatial) if auto_pad == "NOTSET" \
            else [0] * 2 * spatial
        begin = pads[:spatial]
        out = [full - b - e for full, b, e in zip(natural, begin, pads[spatial:])]
        return begin, out
    if attr(node, "pads") is not None:
        return "ConvTranspose with output_shape or auto_pad and pads as well is not lowered"
    out = list(given)[-spatial:] if given is not None else [n * s for n, s in zip(size, strides)]
    totals = [full - o for full, o in zip(natural, out)]
    begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in totals]
    if any(b < 0 for b in begin):
        return "ConvTranspose whose output starts before the first input pixel's reach " \
            "is not lowered"
    return begin, out


def check_conv_transpose(node: ir.Node, values) -> str | None:
    found = check_conv(node, values)
    if found:
        return found
    if any(d != 1 for d in attr(node, "dilations") or (1, 1)):
        return "ConvTranspose with dilations has no TFLite builtin"
    shape = static_but_batch(values, node.inputs[0])
    weights = values.shape(node.inputs[1])
    group = attr(node, "group", 1)
    if shape[1] % group or weights[0] != shape[1]:
        return "ConvTranspose's weights do not match its input's channels and group"
    found = window(node, tuple(shape[2:]), tuple(weights[2:]))
    if isinstance(found, str):
        return found
    out = static_but_batch(values, node.outputs[0])
    if out is None or list(out[2:]) != found[1]:
        return "ConvTranspose needs static output dims, as its attributes give them"
    return None


def emit_conv_transpose(ctx: EmitContext, node: ir.Node) -> None:
    shape = ctx.image_shape(node.inputs[0])
    weights = ctx.shape(node.inputs[1])  # [C_in, C_out / group, k...]
    units = weights[1] * attr(node, "group", 1)
    begin, out = window(node, tuple(shape[2:]), tuple(weights[2:]))
    if len(shape) == 4:
        source = ctx.input(node.inputs[0], NHWC)
        filters = _filters(ctx, node.inputs[1], (1, 2, 3, 0))
        result = ctx.output(node.outputs[0], NHWC)
        _deconvolve(ctx, node, source, filters, shape, begin, out, units, result)
        return
    # 1-D: [N, L, C] as [N, 1, L, C], the weights as [C_out, 1, k, C_in]
    batch, channels, length = shape
    source = height_one(ctx, ctx.input(node.inputs[0], ROWS_LAST), [batch, 1, length, channels])
    filters = _filters(ctx, node.inputs[1], (1, 2, 0), [weights[1], 1, weights[2], channels])
    result = ctx.temp("deconv1d", np.float32, [batch, 1, out[0], units])
    _deconvolve(ctx, node, source, filters, (batch, channels, 1, length), [0, *begin],
                [1, *out], units, result)
    ctx.op("RESHAPE", [result, ctx.int32([-1, out[0], units])],
           [ctx.output(node.outputs[0], ROWS_LAST)])


def _deconvolve(ctx: EmitContext, node: ir.Node, source: int, filters: np.ndarray | int,
                shape: tuple[int, ...], begin: list[int], out: list[int], units: int,
                result: int) -> None:
    """TRANSPOSE_CONV per group onto a canvas holding the window, then the window."""
    group = attr(node, "group", 1)
    strides = tuple(attr(node, "strides") or (1, 1))
    strides = strides if len(strides) == 2 else (1, *strides)
    kernel = ctx.builder.tensors[filters].shape[1:3] if isinstance(filters, int) \
        else filters.shape[1:3]
    canvas = [max((shape[2 + i] - 1) * strides[i] + kernel[i], begin[i] + out[i])
              for i in (0, 1)]
    whole = begin == [0, 0] and canvas == out
    target = result if whole else ctx.temp("deconv_canvas", np.float32,
                                           [shape[0], *canvas, units])
    made = options("TransposeConvOptions", padding=PADDING["VALID"], strideH=strides[0],
                   strideW=strides[1])
    sources = _parts(ctx, source, 3, group, "deconv_in") if group > 1 else [source]
    kernels = _parts(ctx, filters, 3, group, "deconv_filter") if group > 1 \
        else [filters if isinstance(filters, int) else ctx.const(filters, "filter")]
    biases = _parts(ctx, _bias_parts(ctx, node, units), 0, group, "deconv_bias")
    per_group = units // group
    pieces = []
    for index, (part, kernel_, bias) in enumerate(zip(sources, kernels, biases)):
        piece = target if group == 1 else ctx.temp(f"deconv{index}", np.float32,
                                                   [shape[0], *canvas, per_group])
        size = ctx.int32([shape[0], *canvas, per_group])
        ctx.op("TRANSPOSE_CONV", [size, kernel_, part, bias], [piece], made)
        pieces.append(piece)
    if group > 1:
        ctx.op("CONCATENATION", pieces, [target], options("ConcatenationOptions", axis=3))
    if not whole:
        size = [shape[0], *out, units]
        ctx.op("SLICE", [target, ctx.int32([0, *begin, 0]), ctx.int32(size)], [result])


def entries() -> dict[str, list[Lowering]]:
    return {"ConvTranspose": [entry("TRANSPOSE_CONV", emit_conv_transpose,
                                    check=check_conv_transpose)]}
