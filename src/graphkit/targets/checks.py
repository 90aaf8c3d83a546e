"""Which target-independent traits does this node have that some targets cannot take?

int64 and float64 tensors, output shapes that depend on tensor values (NonZero, Range
with computed bounds, ...), and shape inputs computed from `Shape` (which fold away once
the input shapes are pinned). Targets choose which traits matter to them, and how much,
through a `GenericChecks` policy; onnxruntime's CPU provider minds none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from graphkit.findings import Finding, Severity
from graphkit.targets.base import NodeContext

# Ops whose output shape always depends on the values of their input.
VALUE_SHAPED = frozenset({"NonZero", "Unique", "Compress", "NonMaxSuppression", "StringSplit"})
# op -> the inputs that decide the output shape (a constant there keeps the shape static).
SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "ConstantOfShape": (0,),
    "Range": (0, 1, 2), "Slice": (1, 2, 3, 4), "Pad": (1, 3), "Resize": (2, 3),
    "Upsample": (1,), "OneHot": (1,), "TopK": (1,), "Split": (1,), "Squeeze": (1,),
    "Unsqueeze": (1,), "CenterCropPad": (1,),
}
# Ops through which a value computed from `Shape` stays a function of shapes alone.
SHAPE_ARITHMETIC = frozenset({
    "Shape", "Size", "Constant", "Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast",
    "Add", "Sub", "Mul", "Div", "Reshape", "Identity", "ConstantOfShape", "Max", "Min",
    "ReduceProd", "Equal", "Where", "Range",
})
SHAPE_WALK_LIMIT = 64  # producers looked at per input before giving up


@dataclass(frozen=True)
class GenericChecks:
    """How much each trait matters to a target (None: not at all)."""

    int64: Severity | None = None
    float64: Severity | None = None
    data_dependent_shape: Severity | None = None
    shape_subgraph: Severity | None = None

    def check(self, node: ir.Node, ctx: NodeContext, target: str) -> list[Finding]:
        found = []
        for code, severity, fix, reason in (
            ("GK201", self.int64, "int64-to-int32",
             lambda: typed_values(node, ctx, ir.DataType.INT64)),
            ("GK202", self.float64, "float64-to-float32",
             lambda: typed_values(node, ctx, ir.DataType.DOUBLE)),
            ("GK302", self.data_dependent_shape, None, lambda: data_dependent_shape(node, ctx)),
            ("GK304", self.shape_subgraph, "pin-shapes", lambda: shape_fed_input(node, ctx)),
        ):
            if severity is None:
                continue
            why = reason()
            if why:
                found.append(Finding(code, severity, why, node=node.name, op=node.op_type,
                                     fix=fix, target=target))
        return found


def typed_values(node: ir.Node, ctx: NodeContext, dtype: ir.DataType) -> str | None:
    """'input 'a' and output 'b' are int64' (None when no input or output has that dtype)."""
    named = [f"{kind} '{value.name}'"
             for kind, values in (("input", node.inputs), ("output", node.outputs))
             for value in values if value is not None and ctx.values.dtype(value) == dtype]
    if not named:
        return None
    more = " and more" if len(named) > 3 else ""
    verb = "is" if len(named) == 1 else "are"
    return f"{' and '.join(named[:3])}{more} {verb} {dtype.name.lower()}"


def data_dependent_shape(node: ir.Node, ctx: NodeContext) -> str | None:
    """Why the node's output shape depends on tensor values (None: it does not, or a
    shape input is computed from shapes only, which `shape_fed_input` reports)."""
    if node.domain == "" and node.op_type in VALUE_SHAPED:
        return f"{node.op_type}'s output shape depends on the values of its input"
    for index in SHAPE_INPUTS.get(node.op_type, ()) if node.domain == "" else ():
        value = node.inputs[index] if index < len(node.inputs) else None
        if value is None or ctx.values.is_constant(value) or _from_shapes(value):
            continue
        return f"input '{value.name}' sets the output shape and is computed from tensor values"
    return None


def shape_fed_input(node: ir.Node, ctx: NodeContext) -> str | None:
    """Which shape input is computed from `Shape` (folds to a constant once shapes are pinned)."""
    for index in SHAPE_INPUTS.get(node.op_type, ()) if node.domain == "" else ():
        value = node.inputs[index] if index < len(node.inputs) else None
        if value is None or ctx.values.is_constant(value) or not _from_shapes(value):
            continue
        return (f"input '{value.name}' is computed from tensor shapes at run time; "
                "it becomes a constant once the input shapes are pinned")
    return None


def dynamic_input(node: ir.Node, ctx: NodeContext) -> str | None:
    """Which input has a dimension not fixed to a number (a shape nothing knows is no
    evidence either way: inside function bodies, say, before inlining)."""
    for value in node.inputs:
        shape = ctx.values.shape(value) if value is not None and value.name else None
        if shape is None or all(isinstance(d, int) for d in shape):
            continue
        return f"input '{value.name}' has dynamic shape {list(shape)}"
    return None


def _from_shapes(value: ir.Value) -> bool:
    """The value is computed by shape arithmetic from Shape/Size outputs and constants only,
    with at least one Shape or Size on the way."""
    seen: set[int] = set()
    stack = [value]
    saw_shape = False
    while stack:
        current = stack.pop()
        producer = current.producer()
        if producer is None:
            if current.const_value is None or current.is_graph_input():
                return False  # a graph input (or an outer-scope value) feeds it
            continue
        if id(producer) in seen:
            continue
        seen.add(id(producer))
        if len(seen) > SHAPE_WALK_LIMIT or producer.op_type not in SHAPE_ARITHMETIC:
            return False
        if producer.op_type in ("Shape", "Size"):
            saw_shape = True
            continue  # the data beneath a Shape does not matter, only its shape
        stack.extend(v for v in producer.inputs if v is not None)
    return saw_shape
