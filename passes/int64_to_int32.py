"""int64 value v -> int32 value v, where interval analysis proves every value of v fits in int32.

Bounds come from constants, from dims (Shape, ArgMax/TopK indices, NonZero: a dim is at
most its static size, and below 2**31 where dynamic), from graph inputs used only as
indices into a static axis, and from interval arithmetic through Add/Sub/Mul/Div/Mod/...
and data movement. Inputs that need int64 by the ONNX spec (Reshape's shape, Unsqueeze's
axes, TopK's k, ...) get a Cast back to int64; ops that only produce int64 (Shape, ArgMax)
get a Cast to int32 behind them. The interface keeps its types unless keep-boundary=false.

Only values whose narrowing removes int64 work are narrowed: computed in int32 by their
producer, read as int32 by a consumer that is not a Cast, or crossing the interface with
keep-boundary=false. An int32 copy of a value nothing reads, or only Casts read, would be
dead weight; and the Casts a first run leaves (on entry, behind Shape, back to int64 for
Reshape) are exactly such values, so a second run finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passes._graph_edit import (
    add_constant,
    cast_after_input,
    cast_before_output,
    cast_node,
    ensure_shapes,
)
from graphkit.passmanager import Pass, PassContext, PassResult
from graphkit.rewrite import const_array

I64, I32 = ir.DataType.INT64, ir.DataType.INT32
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
DYNAMIC_DIM_MAX = 2**31 - 1  # assumption: no axis of a tensor holds 2**31 or more elements
Range = tuple[int, int]

# op -> input slots that share the output's element type (None: all of them).
SAME_TYPE_SLOTS: dict[str, tuple[int, ...] | None] = {
    **{op: None for op in ("Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Sum", "Neg", "Abs",
                           "Identity", "Concat", "Range")},
    **{op: (0,) for op in ("Squeeze", "Unsqueeze", "Reshape", "Flatten", "Transpose", "Expand",
                           "Tile", "Gather", "GatherElements", "Slice", "ReduceMax", "ReduceMin")},
    "Where": (1, 2),
}
COMPARISONS = ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")
# (op, slot) where the spec accepts int32 as well as int64, besides the same-type slots.
INDEX_SLOTS = {("Gather", 1), ("GatherElements", 1), ("ScatterElements", 1), ("Slice", 1),
               ("Slice", 2), ("Slice", 3), ("Slice", 4), ("OneHot", 0), ("CumSum", 1)}
MOVES = ("Squeeze", "Unsqueeze", "Reshape", "Flatten", "Transpose", "Expand", "Tile", "Gather",
         "GatherElements", "Slice", "ReduceMax", "ReduceMin", "Identity", "Concat", "Max", "Min",
         "Where", "Range")


@dataclass(frozen=True)
class Int64ToInt32(Pass):
    name = "int64-to-int32"
    kind = "rewrite"
    fixes = ("GK201",)
    keep_boundary: bool = True

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        graph = model.graph
        ensure_shapes(model, ctx)
        ranges = _bound_values(graph)
        fits = {v for v, r in ranges.items() if r[0] >= INT32_MIN and r[1] <= INT32_MAX}
        chosen = _worth_narrowing(fits, self.keep_boundary)
        if not chosen:
            return PassResult()
        changes = [f"narrowed {len(chosen)} int64 value(s) proven to fit int32"]
        changes += self._convert(graph, chosen)
        return PassResult(modified=True, changes=changes)

    def _convert(self, graph: ir.Graph, chosen: set[ir.Value]) -> list[str]:
        changes: list[str] = []
        narrow: dict[ir.Value, ir.Value] = {}  # int64 value -> its int32 replacement
        for value in sorted(chosen, key=lambda v: v.name or ""):
            narrow[value] = self._narrow(graph, value, chosen, changes)
        # Inputs already rewired to their int32 copy count as converted too.
        converted = chosen | set(narrow.values())
        for value, replacement in narrow.items():
            _rewire_uses(graph, value, replacement, converted)
            if replacement is not value:
                _drop_if_unread(graph, value)
        for value in [v for v in graph.outputs if v in chosen and v.dtype == I32]:
            if not self.keep_boundary:
                changes.append(f"output '{value.name}' is int32 now")
                continue
            name = value.name
            cast_before_output(graph, value, I64)
            changes.append(f"output '{name}' stays int64, cast on exit")
        return changes

    def _narrow(self, graph: ir.Graph, value: ir.Value, chosen: set[ir.Value],
                changes: list[str]) -> ir.Value:
        """Make an int32 version of `value`: retype it in place or add a Cast/constant."""
        array = const_array(value)
        if array is not None:
            return add_constant(graph, array.astype(np.int32), f"{value.name}_i32")
        producer = value.producer()
        if producer is None:  # a graph input
            if self.keep_boundary:
                changes.append(f"input '{value.name}' stays int64, cast to int32 on entry")
                return cast_after_input(graph, value, I32)
            value.dtype = I32
            changes.append(f"input '{value.name}' is int32 now")
            return value
        if producer.op_type == "Cast" or _computes_in_int32(producer, chosen):
            if producer.op_type == "Cast":
                producer.attributes["to"] = ir.AttrInt64("to", I32)
            value.dtype = I32
            return value
        cast = cast_node(value, I32, f"{value.name}_i32")  # Shape, ArgMax, ...: int64 only
        graph.insert_after(producer, cast)
        return cast.outputs[0]


def _rewire_uses(graph: ir.Graph, value: ir.Value, narrow: ir.Value,
                 chosen: set[ir.Value]) -> None:
    """Uses that take int32 read `narrow`; the others read `value` as int64
    (Cast back if retyped).
    """
    back: ir.Value | None = None
    for use in list(value.uses()):
        if use.node is narrow.producer():
            continue
        if _takes_int32(use.node, use.idx, chosen):
            if narrow is not value:
                use.node.replace_input_with(use.idx, narrow)
            continue
        if narrow is value:  # retyped in place: this consumer needs int64 back
            if back is None:
                back = _cast_back(graph, value)
            use.node.replace_input_with(use.idx, back)


def _worth_narrowing(fits: set[ir.Value], keep_boundary: bool) -> set[ir.Value]:
    """The values of `fits` whose narrowing removes int64 work (see the module docstring).
    Dropping one may take the gain from another (an Add turns int32 only with all its
    inputs and its result), so this repeats until nothing more drops."""
    chosen = set(fits)
    dropped = True
    while dropped:
        idle = {value for value in chosen if not _gains(value, chosen, keep_boundary)}
        chosen -= idle
        dropped = bool(idle)
    return chosen


def _gains(value: ir.Value, chosen: set[ir.Value], keep_boundary: bool) -> bool:
    if not keep_boundary and (value.is_graph_output() or value.is_graph_input()):
        return True  # the interface turns int32, as asked
    producer = value.producer()
    if producer is not None and _computes_in_int32(producer, chosen):
        return True  # its producer computes in int32 instead
    return any(use.node.op_type != "Cast" and _takes_int32(use.node, use.idx, chosen)
               for use in value.uses())


def _computes_in_int32(node: ir.Node, chosen: set[ir.Value]) -> bool:
    """Whether `node` can compute in int32: its result shares its inputs' type, and each of
    those inputs is narrowed too (Mod(3000000001, 7) fits, its first input does not)."""
    if node.domain not in ("", "ai.onnx") or node.op_type not in SAME_TYPE_SLOTS:
        return False
    slots = _same_type_slots(node) or ()
    return all(node.inputs[i] is None or node.inputs[i] in chosen for i in slots)


def _drop_if_unread(graph: ir.Graph, value: ir.Value) -> None:
    """Remove an int64 constant whose readers all moved to its int32 copy."""
    if value.uses() or value.is_graph_output() or value.is_graph_input():
        return
    producer = value.producer()
    if producer is None and value.name in graph.initializers:
        del graph.initializers[value.name]
    elif producer is not None and producer.op_type == "Constant" and producer.graph is graph:
        graph.remove(producer, safe=True)


def _takes_int32(node: ir.Node, slot: int, chosen: set[ir.Value]) -> bool:
    if node.domain not in ("", "ai.onnx"):
        return False
    if node.op_type == "Cast" or (node.op_type, slot) in INDEX_SLOTS:
        return True
    slots = _same_type_slots(node)
    if slots is None or slot not in slots:
        return False
    # Every input sharing the type turns int32 together, and so does the result (unless bool).
    together = all(node.inputs[i] is None or node.inputs[i] in chosen for i in slots)
    return together and (node.op_type in COMPARISONS or node.outputs[0] in chosen)


def _same_type_slots(node: ir.Node) -> tuple[int, ...] | None:
    if node.op_type in COMPARISONS:
        return tuple(range(len(node.inputs)))
    if node.op_type not in SAME_TYPE_SLOTS:
        return None
    slots = SAME_TYPE_SLOTS[node.op_type]
    return (tuple(range(len(node.inputs))) if slots is None
            else tuple(s for s in slots if s < len(node.inputs)))


def _cast_back(graph: ir.Graph, value: ir.Value) -> ir.Value:
    cast = cast_node(value, I64, f"{value.name}_i64")
    cast.outputs[0].dtype = I64
    producer = value.producer()
    if producer is not None:
        graph.insert_after(producer, cast)
    else:
        graph.insert_before(next(iter(graph)), cast)
    return cast.outputs[0]


# --- interval analysis ----------------------------------------------------------------


def _bound_values(graph: ir.Graph) -> dict[ir.Value, Range]:
    """int64 values whose values provably fit int32 -> their (min, max), in graph order."""
    ranges: dict[ir.Value, Range] = {}
    for value in graph.inputs:
        bound = None if value.dtype != I64 or value.is_initializer() else _input_range(value)
        if bound is not None:
            ranges[value] = bound
    for value in graph.initializers.values():
        array = const_array(value)
        if array is not None and value.dtype == I64:
            ranges[value] = _array_range(array)
    for node in graph:
        for value, bound in _node_ranges(node, ranges).items():
            if value.dtype == I64 and bound[0] >= INT32_MIN and bound[1] <= INT32_MAX:
                ranges[value] = bound
    return {v: r for v, r in ranges.items() if r[0] >= INT32_MIN and r[1] <= INT32_MAX}


def _array_range(array: np.ndarray) -> Range:
    return (int(array.min()), int(array.max())) if array.size else (0, 0)


def _input_range(value: ir.Value) -> Range | None:
    """An input used only as indices into a static axis: valid inputs lie in [-dim, dim)."""
    bound = None
    for use in value.uses():
        if use.node.op_type != "Gather" or use.idx != 1:
            return None
        dim = _axis_dim(use.node.inputs[0], use.node.attributes.get_int("axis", 0))
        if not isinstance(dim, int):
            return None
        bound = (-dim, dim - 1) if bound is None else (min(bound[0], -dim), max(bound[1], dim - 1))
    return bound


def _axis_dim(value: ir.Value | None, axis: int):
    if value is None or value.shape is None or not -len(value.shape) <= axis < len(value.shape):
        return None
    return value.shape[axis]


def _dim_bound(dim) -> int:
    return dim if isinstance(dim, int) else DYNAMIC_DIM_MAX


def _node_ranges(node: ir.Node, ranges: dict[ir.Value, Range]) -> dict[ir.Value, Range]:
    if node.domain not in ("", "ai.onnx") or not node.outputs:
        return {}
    op, out = node.op_type, node.outputs[0]
    if op == "Constant":
        array = const_array(out)
        return {} if array is None else {out: _array_range(array)}
    if op in ("Shape", "NonZero"):
        shape = node.inputs[0].shape
        return {} if shape is None else {out: (0, max([_dim_bound(d) for d in shape], default=0))}
    if op in ("ArgMax", "ArgMin", "TopK"):
        axis = node.attributes.get_int("axis", -1 if op == "TopK" else 0)
        dim = _axis_dim(node.inputs[0], axis)
        return {node.outputs[-1]: (0, _dim_bound(dim) - 1)} if dim is not None else {}
    if op == "Cast":
        source = node.inputs[0]
        if source is not None and source.dtype in (I32, ir.DataType.INT16, ir.DataType.INT8,
                                                    ir.DataType.UINT8, ir.DataType.UINT16,
                                                    ir.DataType.BOOL):
            return {out: (INT32_MIN, INT32_MAX)}
        return {out: ranges[source]} if source in ranges else {}
    return _same_type_range(node, ranges)


def _same_type_range(node: ir.Node, ranges: dict[ir.Value, Range]) -> dict[ir.Value, Range]:
    slots = _same_type_slots(node)
    if slots is None or node.op_type in COMPARISONS:
        return {}
    args = [node.inputs[i] for i in slots if node.inputs[i] is not None]
    if not args or any(arg not in ranges for arg in args):
        return {}
    bounds = [ranges[arg] for arg in args]
    bound = _arithmetic(node.op_type, bounds)
    return {} if bound is None else {node.outputs[0]: bound}


def _arithmetic(op: str, bounds: list[Range]) -> Range | None:
    if op in MOVES:
        return (min(b[0] for b in bounds), max(b[1] for b in bounds))
    if op in ("Add", "Sum"):
        return (sum(b[0] for b in bounds), sum(b[1] for b in bounds))
    if op == "Neg":
        return (-bounds[0][1], -bounds[0][0])
    if op == "Abs":
        (lo, hi), = bounds
        return (0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
    (alo, ahi), (blo, bhi) = bounds[0], bounds[1]
    if op == "Sub":
        return (alo - bhi, ahi - blo)
    corners = [alo * blo, alo * bhi, ahi * blo, ahi * bhi]
    if op == "Mul":
        return (min(corners), max(corners))
    largest = max(abs(alo), abs(ahi))
    if op == "Div":  # |a / b| <= |a| for integer b != 0
        return (-largest, largest)
    if op == "Mod":  # |a mod b| < |b|
        most = max(abs(blo), abs(bhi)) - 1
        return (-most, most)
    return None
