"""Col2Im and MaxUnpool: data placed into a larger tensor, where it lands known in advance
(Col2Im) or given as indices (MaxUnpool).

Col2Im, with static shapes: image pixel s sums the column entries (k, l) whose block
position l and kernel offset k land on it, at most one per offset, so with the input held
as [N*C, K*L] and a zero appended, a constant table [S, K] of those entries (K*L, the zero,
where an offset lands on nothing) makes the output one GATHER and one SUM over K: exact,
each pixel the sum of only its own entries. The image shape is the constant input or the
output's static shape. A block shape given at run time is one of the few the static
shapes allow: each gets its table and the one equal to block_shape is gathered.

MaxUnpool: y.flat[indices] = x, the last of duplicate indices winning, as in onnx's
reference and ONNX Runtime: UNSORTED_SEGMENT_MAX of the positions 0..M-1, segmented by
index, names the last x written to each element; GATHER reads it, SELECT_V2 leaves 0 where
none was. An index outside the output goes to a spare segment, which is dropped.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import (
    NUMERIC,
    EmitContext,
    Lowering,
    attr,
    entry,
    known,
    static_shape,
)
from graphkit.backends.tflite.lowering._calc import Calc

MAX_TABLE = 1 << 22  # entries of the constant tables together


def window_reason(node: ir.Node, rank_: int) -> str | None:
    """Why the node's window attributes (kernel_shape, strides, dilations, pads) do not
    describe windows over `rank_` spatial dims (None: they do)."""
    for name, length, least in (("kernel_shape", rank_, 1), ("strides", rank_, 1),
                                ("dilations", rank_, 1), ("pads", 2 * rank_, 0)):
        value = attr(node, name)
        if value is None:
            continue
        if len(value) != length:
            return f"{node.op_type}'s {name} has {len(value)} values, not {length}"
        if min(value) < least:
            return f"{node.op_type}'s {name} must be at least {least}"
    return None


# Col2Im --------------------------------------------------------------------------------

def _geometry(node: ir.Node, rank_: int) -> tuple[list[int], list[int], list[int], list[int]]:
    dilations = list(attr(node, "dilations") or [1] * rank_)
    strides = list(attr(node, "strides") or [1] * rank_)
    pads = list(attr(node, "pads") or [0] * (2 * rank_))
    return dilations, strides, pads[:rank_], pads[rank_:]


def _blocks(node: ir.Node, image: list[int], block: tuple[int, ...]) -> list[int]:
    dilations, strides, begin, end = _geometry(node, len(image))
    return [(size + b + e - d * (k - 1) - 1) // s + 1
            for size, b, e, d, k, s in zip(image, begin, end, dilations, block, strides,
                                           strict=True)]


def _image_shape(node: ir.Node, values) -> list[int] | None:
    given = known(node.inputs[1], values)
    if given is not None:
        return [int(d) for d in given]
    out = static_shape(values, node.outputs[0])
    return None if out is None else list(out[2:])


def _factorizations(total: int, parts: int):
    if parts == 1:
        yield (total,)
        return
    for first in range(1, total + 1):
        if total % first == 0:
            for rest in _factorizations(total // first, parts - 1):
                yield (first, *rest)


def block_shapes(node: ir.Node, values) -> list[tuple[int, ...]]:
    """The block shapes this node can have: the constant input, else every one the
    static input, image and output shapes allow (none where they are not known)."""
    data, out = static_shape(values, node.inputs[0]), static_shape(values, node.outputs[0])
    image = _image_shape(node, values)
    if data is None or image is None:
        return []
    given = known(node.inputs[2], values)
    if given is not None:
        candidates = [tuple(int(d) for d in given)]
    elif out is not None and out[1] > 0 and data[1] % out[1] == 0:
        candidates = list(_factorizations(data[1] // out[1], len(image)))
    else:
        return []
    return [block for block in candidates
            if len(block) == len(image) and min(block) > 0 and data[1] % np.prod(block) == 0
            and min(_blocks(node, image, block)) >= 1
            and np.prod(_blocks(node, image, block)) == data[2]]


def check_col2im(node: ir.Node, values) -> str | None:
    data = static_shape(values, node.inputs[0])
    if data is None or len(data) != 3:
        return "Col2Im needs a static input shape [N, C*K, L]"
    image = _image_shape(node, values)
    if image is None:
        return "Col2Im needs a constant image_shape or a static output shape"
    bad = window_reason(node, len(image))
    if bad is not None:
        return bad
    blocks = block_shapes(node, values)
    if not blocks:
        return "Col2Im's block_shape must be a constant or follow from the static shapes, " \
            "and fit the input's shape"
    if len(blocks) * int(np.prod(image)) * int(np.prod(blocks[0])) > MAX_TABLE:
        return f"Col2Im with over {MAX_TABLE} table entries is not lowered"
    return None


def col2im_table(node: ir.Node, image: list[int], block: tuple[int, ...]) -> np.ndarray:
    """[prod(image), K]: per pixel and kernel offset, the column entry k * L + l landing
    there, or K * L (the zero appended) where none does."""
    dilations, strides, begin, _ = _geometry(node, len(image))
    counts = _blocks(node, image, block)
    kernel, length = int(np.prod(block)), int(np.prod(counts))
    table = np.full((int(np.prod(image)), kernel), kernel * length, np.int32)
    for k, offset in enumerate(itertools.product(*map(range, block))):
        for column, position in enumerate(itertools.product(*map(range, counts))):
            pixel = [p * s - b + o * d for p, s, b, o, d in
                     zip(position, strides, begin, offset, dilations, strict=True)]
            if all(0 <= x < size for x, size in zip(pixel, image, strict=True)):
                table[np.ravel_multi_index(pixel, image), k] = k * length + column
    return table


def emit_col2im(ctx: EmitContext, node: ir.Node) -> None:
    calc = Calc(ctx)
    data = node.inputs[0]
    n, rows, length = ctx.shape(data)
    image = _image_shape(node, ctx.values)
    blocks = block_shapes(node, ctx.values)
    kernel = int(np.prod(blocks[0]))
    channels, pixels = rows // kernel, int(np.prod(image))
    flat = calc.reshape(calc.tensor(ctx.input(data), (n, rows, length), ctx.dtype(data)),
                        [n * channels, kernel * length])
    padded = calc.temp([n * channels, kernel * length + 1], flat.dtype, "padded")
    ctx.op("PAD", [flat.index, ctx.int32([[0, 0], [0, 1]])], [padded.index])
    tables = np.stack([col2im_table(node, image, block) for block in blocks])
    if len(blocks) == 1:
        table = calc.const(tables[0], np.int32)
    else:  # the table of the block shape given at run time
        given = calc.tensor(ctx.input(node.inputs[2]), (len(image),), ctx.dtype(node.inputs[2]))
        equal = calc.binary("EQUAL", given, calc.const(np.asarray(blocks), given.dtype))
        matches = calc.reduce("REDUCE_MIN", calc.cast(equal, np.int32), 1)
        choice = calc.sum(calc.mul(matches, calc.const(np.arange(len(blocks)), np.int32)), 0)
        table = calc.reshape(calc.gather(calc.const(tables, np.int32),
                                         calc.reshape(choice, [1])), [pixels, kernel])
    summed = calc.sum(calc.gather(padded, table, axis=1), 2)
    ctx.op("RESHAPE", [summed.index, ctx.int32([n, channels, *image])],
           [ctx.output(node.outputs[0])])


# MaxUnpool -----------------------------------------------------------------------------

def _inferred(node: ir.Node, shape: tuple[int, ...]) -> list[int]:
    kernel = list(attr(node, "kernel_shape"))
    rank_ = len(kernel)
    strides = list(attr(node, "strides") or [1] * rank_)
    pads = list(attr(node, "pads") or [0] * (2 * rank_))
    return [*shape[:2], *((size - 1) * s - (pads[i] + pads[rank_ + i]) + k for i, (size, s, k)
                          in enumerate(zip(shape[2:], strides, kernel, strict=True)))]


def check_max_unpool(node: ir.Node, values) -> str | None:
    shape = static_shape(values, node.inputs[0])
    if shape is None or static_shape(values, node.inputs[1]) != shape:
        return "MaxUnpool needs static X and I shapes, the same"
    if attr(node, "kernel_shape") is None:
        return "MaxUnpool needs its kernel_shape"
    bad = window_reason(node, len(shape) - 2)
    if bad is not None:
        return bad
    inferred = _inferred(node, shape)
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        given = known(node.inputs[2], values)
        out = static_shape(values, node.outputs[0])
        wanted = [int(d) for d in given] if given is not None else out
        if wanted is None:
            return "MaxUnpool needs a constant output_shape or a static output shape"
        if list(wanted) != inferred:
            return ("MaxUnpool with an output_shape other than the unpooled shape is not "
                    "lowered: onnx's reference takes the indices in the unpooled shape, "
                    "ONNX Runtime and torch in output_shape")
    if min(inferred) < 1 or np.prod(inferred) >= 2**31 - 1:
        return "MaxUnpool's output must be non-empty and under 2**31 elements"
    return None


def emit_max_unpool(ctx: EmitContext, node: ir.Node) -> None:
    calc = Calc(ctx)
    x, indices = node.inputs[:2]
    shape = ctx.shape(x)
    count, total = int(np.prod(shape)), int(np.prod(_inferred(node, shape)))
    flat = calc.reshape(calc.tensor(ctx.input(x), shape, ctx.dtype(x)), [count])
    where = calc.reshape(calc.tensor(ctx.input(indices), shape, ctx.dtype(indices)), [count])
    inside = calc.binary("LOGICAL_AND", calc.binary("GREATER_EQUAL", where, 0),
                         calc.binary("LESS", where, total))
    segment = calc.cast(calc.select(inside, where, total), np.int32)
    last = calc.temp([total + 1], np.int32, "last")
    ctx.op("UNSORTED_SEGMENT_MAX", [calc.const(np.arange(count), np.int32).index,
                                    segment.index, ctx.int32([total + 1])], [last.index])
    last = calc.take(last, 0, 0, total)
    read = calc.gather(flat, calc.binary("MAXIMUM", last, 0))
    placed = calc.select(calc.binary("GREATER_EQUAL", last, 0), read, 0)
    ctx.op("RESHAPE", [placed.index, ctx.int32(_inferred(node, shape))],
           [ctx.output(node.outputs[0])])


def entries() -> dict[str, list[Lowering]]:
    return {
        "Col2Im": [entry(("RESHAPE", "PAD", "GATHER", "SUM", "EQUAL", "CAST", "REDUCE_MIN",
                          "MUL"), emit_col2im, dtypes=NUMERIC, check=check_col2im, since=18)],
        "MaxUnpool": [entry(("RESHAPE", "GREATER_EQUAL", "LESS", "LOGICAL_AND", "SELECT_V2",
                             "CAST", "UNSORTED_SEGMENT_MAX", "STRIDED_SLICE", "MAXIMUM",
                             "GATHER"), emit_max_unpool, dtypes=NUMERIC, check=check_max_unpool,
                            since=9)],
    }
