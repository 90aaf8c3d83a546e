"""Named questions about one node, used by the target tables' `checks`.

Each predicate answers with the reason the node fails (a short phrase naming the input,
attribute or value at fault) or None when it passes or when the facts it needs are not
known (an unknown shape or dtype is not evidence against a node). The table entry names
the predicate by its kind, e.g. `{ kind = "const-input", inputs = [1] }`. This module holds
the schema-level ones and the registry; predicates about one runtime's kernels are in
_predicates_kernels, the helpers they share in _predicates_common.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx_ir as ir

from graphkit.ir._constants import const_array
from graphkit.targets._data import DTYPES
from graphkit.targets._predicates_common import (  # noqa: F401 - re-exported for the tables
    Args,
    Predicate,
    _elements,
    _label,
    _shown,
    attr_value,
    matches_when,
    node_input,
    schema_default,
)
from graphkit.targets._predicates_kernels import (
    attention_mask_length,
    empty_reduction,
    input_given,
    locale_available,
    output_used,
    padded,
    resize_downsamples,
    resize_spatial_only,
    symmetric_weight,
)
from graphkit.targets.base import NodeContext


def attr_in(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    value = attr_value(node, args["attr"], ctx)
    if value is None or value in args["values"]:
        return None
    return f"{args['attr']}={value!r}; accepted: {_shown(args['values'])}"


def attr_all_in(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    value = attr_value(node, args["attr"], ctx)
    if value is None or all(v in args["values"] for v in value):
        return None
    return f"{args['attr']}={list(value)}; each must be one of {_shown(args['values'])}"


def attr_absent(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    present = [name for name in args["attrs"] if name in node.attributes]
    return f"attribute {present[0]} is not accepted" if present else None


def attr_given(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """An attribute the schema leaves optional with no default that a kernel needs (at
    least `min`, where the check gives one)."""
    value = attr_value(node, args["attr"], ctx)
    if value is None:
        return f"attribute {args['attr']} is not given"
    low = args.get("min")
    if low is None or value >= low:
        return None
    return f"{args['attr']}={value!r}; accepted: {low} or more"


def const_input(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """The inputs must be constants; `unless_dtypes` exempts inputs of those dtypes,
    `dtypes` checks only inputs of those. With `quantized` (the target runs Q/DQ), a
    DequantizeLinear of constants counts: it is the op's quantized weight. With `run_time`
    (the kernel reads the input as a tensor at run time), only a constant a caller can
    override is refused, an initializer that is also a graph input or a value computed from
    one: a deployed model wants it constant, and fix folds it (IR-3 models)."""
    exempt = {d for name in args.get("unless_dtypes", ()) for d in DTYPES[name]}
    only = {d for name in args.get("dtypes", ()) for d in DTYPES[name]}
    constant = ctx.values.is_weight if args.get("quantized") else ctx.values.is_constant
    for index in args["inputs"]:
        value = node_input(node, index)
        if value is None or constant(value):
            continue
        if args.get("run_time") and not _from_overridable(value):
            continue
        found = ctx.values.dtype(value)
        if found in exempt or (only and found not in only):
            continue
        return f"{_label(node, index)} must be a constant; {_made_by(value)}"
    return None


def _from_overridable(value: ir.Value) -> bool:
    """Whether the value is, or is computed from, an initializer that is also a graph input."""
    seen: set[int] = set()
    todo = [value]
    while todo:
        found = todo.pop()
        if found is None or id(found) in seen:
            continue
        seen.add(id(found))
        if found.is_graph_input() and found.const_value is not None:
            return True
        producer = found.producer()
        if producer is not None:
            todo.extend(producer.inputs)
    return False


def _made_by(value: ir.Value) -> str:
    producer = value.producer()
    if producer is None:
        return "it is a graph input" if value.is_graph_input() else "it comes from an outer scope"
    name = f" '{producer.name}'" if producer.name else ""
    return f"it is computed by {producer.op_type}{name}"


def input_absent(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    given = [i for i in args["inputs"] if node_input(node, i) is not None]
    return f"{_label(node, given[0])} is not accepted" if given else None


def input_present(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """The inputs must be given: an optional input whose absence the target cannot read
    (Squeeze without axes, before TensorRT 11.5)."""
    missing = [i for i in args["inputs"] if node_input(node, i) is None]
    return f"input {missing[0]} must be given" if missing else None


def _constant_values_fail(
    node: ir.Node, args: Args, bad: Callable[[np.ndarray], bool], wanted: str
) -> str | None:
    for index in args["inputs"]:
        array = const_array(node_input(node, index))
        if array is not None and bad(array):
            return f"{_label(node, index)} must be {wanted}, holds {_few(array)}"
    return None


def _few(array: np.ndarray) -> str:
    """The values, when a handful (a zero point, an axis); else how many there are."""
    if array.size <= 4:
        return str(array.ravel().tolist() if array.ndim else array.item())
    return f"{array.size} values"


def input_zero(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    for index in args["inputs"]:
        value = node_input(node, index)
        if value is not None and const_array(value) is None:
            return f"{_label(node, index)} must be a constant zero"
    return _constant_values_fail(node, args, lambda a: bool(np.any(a != 0)), "zero")


def input_nonneg(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    return _constant_values_fail(node, args, lambda a: bool(np.any(a < 0)), ">= 0")


def input_max(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    limit = args["max"]
    spec = {"inputs": [args["input"]]}
    return _constant_values_fail(node, spec, lambda a: bool(np.any(a > limit)), f"<= {limit}")


def output_unused(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    for index in args["outputs"]:
        if index >= len(node.outputs):
            continue
        value = node.outputs[index]
        if value.name and (value.uses() or value.is_graph_output()):
            return f"output {index} ('{value.name}') is used but not produced by the target"
    return None


def rank(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    low, high = args.get("min", 0), args.get("max", 1 << 30)
    for index in args["inputs"]:
        shape = ctx.values.shape(node_input(node, index))
        if shape is not None and not low <= len(shape) <= high:
            wanted = f"{low}" if low == high else f"{low}..{high}" if high < 1 << 30 else f">={low}"
            return f"{_label(node, index)} has rank {len(shape)}; accepted: {wanted}"
    return None


def dtype(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    allowed = {d for name in args["dtypes"] for d in DTYPES[name]}
    for index in args["inputs"]:
        found = ctx.values.dtype(node_input(node, index))
        if found is not None and found not in allowed:
            return (
                f"{_label(node, index)} is {found.name.lower()}; accepted: {_shown(args['dtypes'])}"
            )
    return None


def static_shape(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    for index in args["inputs"]:
        value = node_input(node, index)
        shape = ctx.values.shape(value)
        if value is not None and (shape is None or not all(isinstance(d, int) for d in shape)):
            return f"{_label(node, index)} needs a static shape, has {shape}"
    return None


def static_axis_dim(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    shape = ctx.values.shape(node_input(node, args["input"]))
    axis = attr_value(node, args["attr"], ctx)
    if shape is None or axis is None or not -len(shape) <= axis < len(shape):
        return None
    if isinstance(shape[axis], int):
        return None
    return f"dimension {axis} of {_label(node, args['input'])} must be static, is {shape[axis]!r}"


def pads_symmetric(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    pads = attr_value(node, "pads", ctx)
    if not pads:
        return None
    half = len(pads) // 2
    return None if pads[:half] == pads[half:] else f"pads={list(pads)} differ begin vs end"


def same_direction_activations(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    if attr_value(node, "direction", ctx) != "bidirectional":
        return None
    acts = attr_value(node, "activations", ctx)
    if not acts:
        return None
    half = len(acts) // 2
    return None if acts[:half] == acts[half:] else f"activations differ per direction: {acts}"


def split_even(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    if node_input(node, 1) is not None or "split" in node.attributes:
        return None
    shape = ctx.values.shape(node_input(node, 0))
    axis = attr_value(node, "axis", ctx) or 0
    if shape is None or not -len(shape) <= axis < len(shape) or not isinstance(shape[axis], int):
        return None
    parts = len(node.outputs)
    return None if shape[axis] % parts == 0 else f"axis size {shape[axis]} not divisible by {parts}"


def pad_last_two_dims(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    pads = const_array(node_input(node, 1))
    shape = ctx.values.shape(node_input(node, 0))
    if pads is None or shape is None:
        return None
    axes_array = const_array(node_input(node, 3))
    rank_ = len(shape)
    axes = [int(a) % rank_ for a in axes_array] if axes_array is not None else list(range(rank_))
    count = len(axes)
    padded = [axes[i] for i in range(count) if pads[i] != 0 or pads[i + count] != 0]
    early = [a for a in padded if a < rank_ - 2]
    return f"pads axis {early[0]}; only the last two axes may be padded" if early else None


def slope_per_channel(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    slope = ctx.values.shape(node_input(node, 1))
    if slope is None:
        return None
    sizes = [d for d in slope if isinstance(d, int)]
    if len(sizes) == len(slope) and int(np.prod(sizes)) == 1:
        return None
    if len(slope) == 3 and slope[1:] == (1, 1):
        return None
    return f"slope shape {slope}; accepted: a single element or [C, 1, 1]"


def one_element(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    """A per-tensor parameter: a scalar or a one-element vector, not one value per channel."""
    for index in args["inputs"]:
        value = node_input(node, index)
        count = _elements(ctx.values.shape(value))
        if count is not None and count != 1:
            return f"{_label(node, index)} holds {count} values; accepted: one (per-tensor)"
    return None


def always(node: ir.Node, ctx: NodeContext, args: Args) -> str | None:
    return args["message"]


PREDICATES: dict[str, Predicate] = {
    "attr-in": attr_in,
    "attr-all-in": attr_all_in,
    "attr-absent": attr_absent,
    "attr-given": attr_given,
    "const-input": const_input,
    "input-absent": input_absent,
    "input-present": input_present,
    "input-zero": input_zero,
    "input-nonneg": input_nonneg,
    "input-max": input_max,
    "output-unused": output_unused,
    "rank": rank,
    "dtype": dtype,
    "static-shape": static_shape,
    "static-axis-dim": static_axis_dim,
    "pads-symmetric": pads_symmetric,
    "same-direction-activations": same_direction_activations,
    "split-even": split_even,
    "pad-last-two-dims": pad_last_two_dims,
    "slope-per-channel": slope_per_channel,
    "one-element": one_element,
    "empty-reduction": empty_reduction,
    "attention-mask-length": attention_mask_length,
    "locale-available": locale_available,
    "input-given": input_given,
    "output-used": output_used,
    "resize-downsamples": resize_downsamples,
    "resize-spatial-only": resize_spatial_only,
    "padded": padded,
    "symmetric-weight": symmetric_weight,
    "never": always,
    "note": always,
}

# kind -> (finding code, fix) used when a check does not name its own.
DEFAULT_FINDING: dict[str, tuple[str, str | None]] = {
    "const-input": ("GK105", "fold-constants"),
    "input-zero": ("GK105", None),
    "rank": ("GK106", None),
    "dtype": ("GK203", None),
    "static-shape": ("GK301", "pin-shapes"),
    "static-axis-dim": ("GK301", "pin-shapes"),
}
