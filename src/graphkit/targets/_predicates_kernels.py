"""Predicates about one runtime's kernels rather than the op's schema: limits its kernels
enforce beyond what their registry states, and graphs they run with results that differ
from the ONNX reference. The tables name them by kind like the others (_predicates)."""

from __future__ import annotations

import functools
import locale

import numpy as np
import onnx_ir as ir

from graphkit.ir._constants import const_array
from graphkit.targets._data import DTYPES
from graphkit.targets._predicates_common import (
    Args,
    _elements,
    _label,
    attr_value,
    node_input,
)
from graphkit.targets.base import NodeContext


def empty_reduction(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """A reduction whose output has elements while its input has none (an empty set reduced)."""
    data = node_input(node, 0)
    wanted = {d for name in args.get("dtypes", ()) for d in DTYPES[name]}
    if wanted and ctx.values.dtype(data) not in wanted:
        return None
    before = _elements(ctx.values.shape(data))
    after = _elements(ctx.values.shape(node.outputs[0]))
    if before != 0 or not after:
        return None
    return f"{_label(node, 0)} has no elements, the output has {after}"


def attention_mask_length(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """The mask's last axis must span every key: past keys (input 4) plus new ones (input 1)."""
    mask = ctx.values.shape(node_input(node, 3))
    keys = ctx.values.shape(node_input(node, 1))
    past_value = node_input(node, 4)
    past = ctx.values.shape(past_value) if past_value is not None else (0, 0)
    if not mask or not keys or len(keys) < 2 or not past or len(past) < 2:
        return None
    total = keys[-2] + past[-2] if all(isinstance(d, int) for d in (keys[-2], past[-2])) else None
    if not isinstance(mask[-1], int) or total is None or mask[-1] == total:
        return None
    return f"{_label(node, 3)} covers {mask[-1]} keys, the keys number {total}"


@functools.cache
def _locale_installed(name: str) -> bool:
    """Whether this machine has the C library locale `name` (what std::locale loads)."""
    # setlocale is the portable probe; restore at once, since it changes process state.
    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, name)
    except locale.Error:
        return False
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)
    return True


def locale_available(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """StringNormalizer loads its locale when it changes case, or matches stopwords
    without regard to case."""
    changes_case = attr_value(node, "case_change_action", ctx) not in (None, "NONE")
    stopwords = attr_value(node, "stopwords", ctx)
    ignores_case = bool(stopwords) and attr_value(node, "is_case_sensitive", ctx) == 0
    if not changes_case and not ignores_case:
        return None
    name = attr_value(node, "locale", ctx) or args["default"]
    if _locale_installed(name):
        return None
    return f"locale '{name}' is not installed on this machine"


def input_given(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    given = [i for i in args["inputs"] if node_input(node, i) is not None]
    return f"{_label(node, given[0])} is given" if given else None


def output_used(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    for index in args["outputs"]:
        value = node.outputs[index] if index < len(node.outputs) else None
        if value is not None and value.name and (value.uses() or value.is_graph_output()):
            return f"output {index} ('{value.name}') is used"
    return None


def resize_downsamples(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """Whether a Resize shrinks some axis, from its constant scales or sizes."""
    scales = const_array(node_input(node, 2))
    if scales is not None and scales.size and np.any(scales < 1):
        return f"scales {[float(s) for s in scales.ravel()]} shrink the image"
    sizes = const_array(node_input(node, 3))
    dims = ctx.values.shape(node.inputs[0]) if node.inputs and node.inputs[0] else None
    if sizes is None or dims is None or len(dims) != sizes.size:
        return None
    if any(isinstance(d, int) and int(n) < d for d, n in zip(dims, sizes.ravel())):
        return f"sizes {[int(n) for n in sizes.ravel()]} shrink the image"
    return None


def resize_spatial_only(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """Whether a Resize (or Upsample) changes the batch or channel axis (axes 0 and 1), from
    its constant scales or sizes; unknown values are no evidence. `scales` and `sizes` name
    the inputs that hold them (Resize: 2 and 3; Upsample: 1 and none)."""
    scales = const_array(node_input(node, args.get("scales", 2)))
    if scales is not None:
        pairs = zip(_resized_axes(node, ctx, scales.size), scales.ravel())
        if any(axis in (0, 1) and scale != 1 for axis, scale in pairs):
            return f"scales {[float(s) for s in scales.ravel()]} resize the batch or channel axis"
    sizes = const_array(node_input(node, args["sizes"])) if "sizes" in args else None
    dims = ctx.values.shape(node_input(node, 0))
    if sizes is None or dims is None:
        return None
    for axis, size in zip(_resized_axes(node, ctx, sizes.size), sizes.ravel()):
        if axis in (0, 1) and isinstance(dims[axis], int) and int(size) != dims[axis]:
            return f"sizes {[int(n) for n in sizes.ravel()]} resize the batch or channel axis"
    return None


def _resized_axes(node: ir.Node, ctx: NodeContext, count: int) -> list[int]:
    """The axes scales or sizes apply to: the `axes` attribute (opset 18), else all."""
    axes = attr_value(node, "axes", ctx)
    if not axes:
        return list(range(count))
    dims = ctx.values.shape(node_input(node, 0))
    return [axis % len(dims) if dims else axis for axis in axes]


def padded(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """Whether a pooling or convolution node pads its input at all (pads or auto_pad SAME)."""
    auto_pad = attr_value(node, "auto_pad", ctx)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return f"auto_pad={auto_pad}"
    pads = attr_value(node, "pads", ctx)
    if pads and any(p != 0 for p in pads):
        return f"pads={list(pads)}"
    return None


SYMMETRIC_WEIGHT_DTYPES = frozenset({ir.DataType.INT8, ir.DataType.INT4})


def symmetric_weight(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """Whether a quantized weight (DequantizeLinear of constant int8/int4 data) has a zero
    point other than 0, which kernels that take int8 weights as symmetric cannot honour."""
    for index in args["inputs"]:
        producer = _dequantize_of(node_input(node, index))
        if producer is None:
            continue
        data = const_array(node_input(producer, 0))
        zero = const_array(node_input(producer, 2))
        dtype = ctx.values.dtype(node_input(producer, 0))
        if data is None or zero is None or dtype not in SYMMETRIC_WEIGHT_DTYPES:
            continue
        if np.any(zero != 0):
            shown = zero.ravel().tolist()[:4]
            return f"{_label(node, index)} is quantized with zero point {shown}"
    return None


def _dequantize_of(value: ir.Value | None) -> ir.Node | None:
    producer = value.producer() if value is not None else None
    if producer is None or producer.op_type != "DequantizeLinear":
        return None
    return producer if producer.domain in ("", "ai.onnx") else None
