"""Which values may a generated input take? The ones the nodes that read it accept.

A plain random draw makes an integer input that indexes a tensor point past its end, an
axis operand name an axis the data lacks, and a float used as Resize scales negative: the
model then refuses to run and the proof has no inputs. Here each input is followed to the
nodes that read it (through Cast, Reshape and other ops that pass values on unchanged),
and RULES, a table keyed by (op type, input index), says what that operand accepts,
derived from the data operand's dims (the concrete shape generated for a graph input,
else the dims the model declares or its initializer has). An input no rule covers, or
whose dims are unknown, keeps the default draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import onnx_ir as ir

from graphkit._input_values import (
    Distinct,
    Floats,
    Ints,
    KnownDims,
    Parts,
    Rule,
    ShapeFor,
    Values,
)


def input_rules(model: ir.Model, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Rule]:
    """Graph input name -> the values its consumers accept (only inputs some rule covers)."""
    dims = KnownDims(model, shapes)
    rules: dict[str, Rule] = {}
    for value in model.graph.inputs:
        found = [rule for node, index in _readers(value) if (rule := _rule(node, index, dims))]
        if found:
            rules[value.name] = _combine(found)
    return rules


def _rule(node: ir.Node, index: int, dims: KnownDims) -> Rule | None:
    make = RULES.get((node.op_type, index)) if _standard(node) else None
    if make is None:
        return None
    try:
        return make(node, dims)
    except (TypeError, ValueError, IndexError):
        # An attribute of the wrong type, an axis out of range: the checker names what is
        # wrong with the node; the input keeps the default draw.
        return None


# Ops whose first output holds the values of their first input (reshaped, retyped).
PASSTHROUGH = frozenset({"Cast", "CastLike", "Identity", "Unsqueeze", "Squeeze", "Reshape",
                         "Flatten", "Expand", "Transpose"})


def _readers(value: ir.Value, depth: int = 4) -> list[tuple[ir.Node, int]]:
    """(node, input index) of every node that reads the value, seen through PASSTHROUGH ops."""
    found: list[tuple[ir.Node, int]] = []
    for node, index in value.uses():
        passes_on = node.op_type in PASSTHROUGH and _standard(node) and node.outputs
        if passes_on and index == 0 and depth > 0:
            found += _readers(node.outputs[0], depth - 1)
        else:
            found.append((node, index))
    return found


def _standard(node: ir.Node) -> bool:
    """An op of the default domain (the table's ops are those)."""
    return node.domain in ("", "ai.onnx")


def _combine(rules: list[Rule]) -> Rule:
    """Several ranges: the values all of them accept, where some are; else the first rule."""
    ranges = [rule for rule in rules if isinstance(rule, Ints)]
    if len(ranges) == len(rules):
        both = Ints(max(r.low for r in ranges), min(r.high for r in ranges))
        if both.low < both.high:
            return both
    return rules[0]


# --- the rules: what one operand of one op accepts, from the dims of the others ---

MAX_RANK = 32  # a shape operand longer than this is not one a rule should spell out

RuleMaker = Callable[[ir.Node, KnownDims], "Rule | None"]


def _below(size: int | None) -> Rule | None:
    """An index into `size` entries (negative indices are valid too, but need not be drawn)."""
    return Ints(0, size) if size else None


def _index(data: int = 0, attr: str | None = "axis", default: int = 0) -> RuleMaker:
    """Indices into input `data` along the axis its attribute `attr` names."""
    return lambda node, dims: _below(dims.axis(node, data, attr, default))


def _index_nd(node: ir.Node, dims: KnownDims) -> Rule | None:
    """GatherND/ScatterND: each index tuple (the last axis) runs over the data's dims after
    batch_dims; one range that suits all of those dims."""
    data, indices = dims.of(node.inputs[0]), dims.of(node.inputs[1])
    if not data or not indices or indices[-1] is None:
        return None
    start = node.attributes.get_int("batch_dims", 0)
    inner = data[start:start + indices[-1]]
    return _below(min(inner)) if inner and None not in inner else None  # type: ignore[type-var]


def _axis(node: ir.Node, dims: KnownDims) -> Rule | None:
    """One axis of input 0 (CumSum)."""
    rank = dims.rank(node)
    return Ints(0, rank) if rank else None


def _axes(extra: int = 0) -> RuleMaker:
    """A list of different axes of input 0 (Reduce*, Slice, Pad); Unsqueeze's may also name
    one axis past the end."""
    def make(node: ir.Node, dims: KnownDims) -> Rule | None:
        rank = dims.rank(node)
        return Distinct(tuple(range(rank + extra))) if rank is not None else None
    return make


def _ones(node: ir.Node, dims: KnownDims) -> Rule | None:
    """Squeeze: only axes of size 1 may be removed."""
    data = dims.of(node.inputs[0])
    return Distinct(tuple(i for i, d in enumerate(data) if d == 1)) if data else None


def _count(data: int = 0, attr: str | None = "axis", default: int = 0) -> RuleMaker:
    """How many entries to take along an axis: 1 up to its size (TopK k)."""
    def make(node: ir.Node, dims: KnownDims) -> Rule | None:
        size = dims.axis(node, data, attr, default)
        return Ints(1, size + 1) if size else None
    return make


def _split(node: ir.Node, dims: KnownDims) -> Rule | None:
    size = dims.axis(node, 0)
    return Parts(size) if size is not None else None


def _sequence_lens(node: ir.Node, dims: KnownDims) -> Rule | None:
    """RNN/GRU/LSTM: 1 up to the sequence length (axis 0 of X, or 1 where layout=1)."""
    steps = dims.axis(node, 0, None, node.attributes.get_int("layout", 0))
    return Ints(1, steps + 1) if steps else None


def _pads(node: ir.Node, dims: KnownDims) -> Rule | None:
    """Pad: below the shortest dim (reflect mode cannot pad by more than a dim less 1)."""
    known = [d for d in dims.of(node.inputs[0]) or () if d is not None]
    return Ints(0, min(known)) if known and min(known) > 0 else None


def _write_indices(node: ir.Node, dims: KnownDims) -> Rule | None:
    """TensorScatter: the update's rows must fit in the cache after the write index."""
    cache = dims.axis(node, 0, "axis", -2)
    update = dims.axis(node, 1, "axis", -2)
    if cache is None or update is None:
        return None
    return Ints(0, cache - update + 1)


def _shape(merge: bool) -> RuleMaker:
    """Reshape/Expand's shape operand: one the data's own dims satisfy."""
    def make(node: ir.Node, dims: KnownDims) -> Rule | None:
        data = dims.static(node.inputs[0])
        return ShapeFor(data, merge) if data is not None else None
    return make


def _slice_bound(end: bool) -> RuleMaker:
    """Starts in the first half of the shortest dim, ends in the second: never empty."""
    def make(node: ir.Node, dims: KnownDims) -> Rule | None:
        known = [d for d in dims.of(node.inputs[0]) or () if d is not None]
        if not known:
            return None
        middle = max(1, min(known) // 2)
        return Ints(middle, min(known) + 1) if end else Ints(0, middle)
    return make


def _positive(high: int) -> RuleMaker:
    return lambda node, dims: Ints(1, high)


def _unit(node: ir.Node, dims: KnownDims) -> Rule:
    """A probability or threshold."""
    return Floats(0.0, 1.0)


def _divisor(node: ir.Node, dims: KnownDims) -> Rule | None:
    """An integer divisor is never zero (ONNX Runtime refuses to divide integers by it)."""
    dtype = node.inputs[1].dtype
    return Ints(1, 4) if dtype is not None and dtype.is_integer() else None


def _resize_scales(node: ir.Node, dims: KnownDims) -> list[float] | None:
    """The declared output over the input where both are static, else 2 on the spatial
    axes (1 on batch and channels), for the axes the `axes` attribute names."""
    data = dims.static(node.inputs[0])
    if data is None:
        return None
    out = dims.static(node.outputs[0])
    if out is not None and len(out) == len(data):
        scales = [o / d if d else 1.0 for o, d in zip(out, data)]
    else:
        scales = [1.0 if axis < 2 < len(data) else 2.0 for axis in range(len(data))]
    axes = node.attributes.get_ints("axes", None)
    return [scales[axis] for axis in axes] if axes else scales


def _scales(node: ir.Node, dims: KnownDims) -> Rule | None:
    scales = _resize_scales(node, dims)
    return Values(tuple(scales)) if scales is not None else None


def _sizes(node: ir.Node, dims: KnownDims) -> Rule | None:
    data, scales = dims.static(node.inputs[0]), _resize_scales(node, dims)
    if data is None or scales is None:
        return None
    axes = node.attributes.get_ints("axes", None) or range(len(data))
    return Values(tuple(max(1, round(data[a] * s)) for a, s in zip(axes, scales)))


def _resize_10_scales(node: ir.Node, dims: KnownDims) -> Rule | None:
    """Resize-10 is (X, scales); from opset 11 input 1 is roi, which any values suit."""
    return _scales(node, dims) if len(node.inputs) == 2 else None


def _output_shape(node: ir.Node, dims: KnownDims) -> Rule | None:
    """MaxUnpool's output_shape: the output shape the model declares."""
    out = dims.static(node.outputs[0])
    return Values(out) if out is not None else None


def _rois(node: ir.Node, dims: KnownDims) -> Rule | None:
    """RoiAlign boxes: coordinates inside the image (in input coordinates)."""
    data = dims.static(node.inputs[0])
    scale = node.attributes.get_float("spatial_scale", 1.0)
    if data is None or len(data) != 4 or scale <= 0:
        return None
    return Floats(0.0, min(data[2:]) / scale)


def _grid_size(node: ir.Node, dims: KnownDims) -> Rule | None:
    """AffineGrid's size (N, C, spatial...): N from theta [N, r, r+1]; small spatial dims."""
    theta = dims.static(node.inputs[0])
    if theta is None or len(theta) != 3 or not 0 < theta[1] <= MAX_RANK:
        return None
    return Values((theta[0], 1) + (3,) * theta[1])


def _col2im(block: bool) -> RuleMaker:
    """With default strides, pads and dilations, block_shape all 1 and image_shape (L, 1, ...)
    hold the input's L blocks of C*1 values exactly."""
    def make(node: ir.Node, dims: KnownDims) -> Rule | None:
        data, own = dims.static(node.inputs[0]), dims.static(node.inputs[2 if block else 1])
        if data is None or len(data) != 3 or own is None or len(own) != 1:
            return None
        if not 0 < own[0] <= MAX_RANK:
            return None
        if any(name in node.attributes for name in ("strides", "pads", "dilations")):
            return None
        return Values((1,) * own[0] if block else (data[2],) + (1,) * (own[0] - 1))
    return make


def _dft_axis(node: ir.Node, dims: KnownDims) -> Rule | None:
    """DFT-20's axis: any axis but the last, which holds the real and imaginary parts."""
    rank = dims.rank(node)
    return Ints(0, rank - 1) if rank and rank > 1 else None


REDUCTIONS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")

RULES: dict[tuple[str, int], RuleMaker] = {
    # indices: below the data's size along the indexed axis
    ("Gather", 1): _index(),                          # embedding rows, token ids
    ("GatherElements", 1): _index(),
    ("ScatterElements", 1): _index(),
    ("Scatter", 1): _index(),
    ("GatherND", 1): _index_nd,
    ("ScatterND", 1): _index_nd,
    ("RoiAlign", 2): _index(0, None),                 # batch_indices
    ("NegativeLogLikelihoodLoss", 1): _index(0, None, 1),  # class of each sample
    ("SoftmaxCrossEntropyLoss", 1): _index(0, None, 1),
    ("RotaryEmbedding", 3): _index(1, None),          # position_ids: rows of cos_cache
    ("TensorScatter", 2): _write_indices,
    # axes
    ("CumSum", 1): _axis,
    ("CumProd", 1): _axis,
    ("DFT", 2): _dft_axis,
    ("Squeeze", 1): _ones,
    ("Unsqueeze", 1): _axes(extra=1),
    ("Slice", 3): _axes(),
    ("Pad", 3): _axes(),
    **{(op, 1): _axes() for op in REDUCTIONS},
    # counts and sizes
    ("TopK", 1): _count(0, "axis", -1),               # k
    ("ReverseSequence", 1): _count(0, "time_axis"),   # sequence_lens
    **{(op, 4): _sequence_lens for op in ("RNN", "GRU", "LSTM")},
    ("Split", 1): _split,                             # sizes add up to the axis
    ("SplitToSequence", 1): _split,
    ("Pad", 1): _pads,
    ("OneHot", 1): _positive(6),                      # depth
    ("Range", 2): _positive(3),                       # delta: never 0
    ("Tile", 1): _positive(3),                        # repeats
    ("Slice", 4): _positive(3),                       # steps: never 0
    ("DFT", 1): _positive(5),                         # dft_length
    ("STFT", 1): _positive(4),                        # frame_step
    ("Div", 1): _divisor,
    ("Mod", 1): _divisor,
    # shapes
    ("Reshape", 1): _shape(merge=True),
    ("Expand", 1): _shape(merge=False),
    ("Resize", 1): _resize_10_scales,
    ("Resize", 2): _scales,
    ("Resize", 3): _sizes,
    ("Upsample", 1): _scales,
    ("MaxUnpool", 2): _output_shape,
    ("AffineGrid", 1): _grid_size,
    ("Col2Im", 1): _col2im(block=False),
    ("Col2Im", 2): _col2im(block=True),
    # slices: starts and ends that select something
    ("Slice", 1): _slice_bound(end=False),
    ("Slice", 2): _slice_bound(end=True),
    # probabilities, thresholds, coordinates
    ("Bernoulli", 0): _unit,
    ("Dropout", 1): _unit,                            # ratio
    ("NonMaxSuppression", 3): _unit,                  # iou_threshold
    ("NonMaxSuppression", 4): _unit,                  # score_threshold
    ("RoiAlign", 1): _rois,
}
