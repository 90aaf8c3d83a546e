"""float32 op -> float16 op, except numerically sensitive ops, which stay float32 behind Casts.

Every standard op whose schema lets its float tensors be float16 computes in float16;
the ops in KEEP_FLOAT32 (and any op the schema or this pass cannot convert) stay float32.
Where a value crosses between the two, one Cast per value and direction is inserted
right after its producer. Weights feeding only float16 ops are stored in float16. The
graph's float32 inputs and outputs stay float32 (Casts at the boundary) unless
keep-io=false. The rewrite changes numerics by design: it declares the tolerance it is
proven with (rtol, atol), measured on a CNN and a 2-block transformer (see the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.ir._schema import onnx_schema
from graphkit.ir._walk import CONTROL_FLOW
from graphkit.passes._graph_edit import (
    STANDARD_DOMAINS,
    cast_before_output,
    cast_node,
    ensure_shapes,
)
from graphkit.passmanager import Pass, PassContext, PassResult

F32, F16 = ir.DataType.FLOAT, ir.DataType.FLOAT16

# Why each stays float32. float16 has 11 significant bits and overflows past 65504:
KEEP_FLOAT32 = frozenset({
    # exp overflows at x > 11; a sum of exps loses small terms; log of a tiny sum -> -inf.
    "Softmax", "LogSoftmax", "Exp", "Log", "Pow", "Softplus", "ReduceLogSumExp", "ReduceLogSum",
    # means and variances of squares: cancellation and overflow; epsilons (1e-5) below
    # float16's smallest normal number (6.1e-5) would vanish.
    "LayerNormalization", "BatchNormalization", "InstanceNormalization", "GroupNormalization",
    "RMSNormalization", "LpNormalization", "MeanVarianceNormalization",
    # long accumulations lose precision or overflow.
    "ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceProd", "CumSum",
    # 1/x of a small value overflows. (Sqrt cannot overflow and is as exact as any op: it
    # converts; a hand-written norm's mean of squares is kept by the reductions above.)
    "Reciprocal",
    # whose output dtype is an attribute, or that draw random numbers: left as written.
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike",
    "Multinomial", "Bernoulli",
    # subgraphs are not converted; their bodies see the values they capture as float32.
    *CONTROL_FLOW,
})
ATTRIBUTE_TENSORS = {"Constant": "value", "ConstantOfShape": "value"}


@dataclass(frozen=True)
class Float16(Pass):
    name = "float16"
    kind = "rewrite"
    keep_io: bool = True
    # Measured vs ORT float32 (tests/passes/test_float16.py): a 3-conv CNN with softmax, max abs
    # error 2.9e-6; the 2-block transformer, 3.9e-4 on outputs up to 4.5. ORT's CPU EP runs most
    # float16 ops in float32 between casts, so a float16 device errs more: the margin is 10x.
    rtol: float = 1e-2
    atol: float = 1e-3

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        graph = model.graph
        ensure_shapes(model, ctx)  # every float tensor's dtype must be known to place the Casts
        opset = model.opset_imports.get("", 1)
        half = {id(node) for node in graph
                if node.op_type not in ATTRIBUTE_TENSORS and _converts(node, opset)}
        wants = _wants(graph, half, opset, self.keep_io)
        # A constant, like a weight, turns float16 only where every reader computes in it: a
        # threshold that a float32 op reads keeps its value (0.3 is 0.2998 in float16).
        half |= {id(node) for node in graph if node.op_type in ATTRIBUTE_TENSORS
                 and _converts(node, opset) and _read_as_half(node.outputs[0], wants)}
        if not half:
            return PassResult()  # nothing float32 left to convert: a second run ends here
        # Counted before the rewrite, whose own boundary Casts read float32 too.
        kept = sum(1 for node in graph if _has_float(node) and id(node) not in half)
        stored = _convert_nodes(graph, half, opset) | _convert_weights(graph, wants)
        if not self.keep_io:
            stored |= _convert_inputs(graph, wants)
        casts = _insert_casts(graph, wants, stored)
        outputs = _fix_outputs(graph, stored, self.keep_io)
        changes = [f"{len(half)} node(s) compute in float16, {kept} stay float32; {casts} Cast(s) "
                   f"at the boundaries; {outputs} output(s) cast back to float32",
                   f"proven with rtol={self.rtol:g}, atol={self.atol:g} (float16 by design)"]
        return PassResult(modified=True, changes=changes, tolerance=(self.rtol, self.atol))


def _schema(node: ir.Node, opset: int) -> onnx.defs.OpSchema | None:
    return onnx_schema(node.op_type, opset) if node.domain in STANDARD_DOMAINS else None


def _slot(params, index: int):
    """The formal parameter an actual input/output index binds to (variadic last repeats)."""
    if index < len(params):
        return params[index]
    last = params[-1] if params else None
    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    return last if last is not None and last.option == variadic else None


def _slot_allows_half(schema: onnx.defs.OpSchema, param) -> bool | None:
    """True: the slot's type variable admits float16; False: it does not; None: a fixed type."""
    allowed = {c.type_param_str: c.allowed_type_strs for c in schema.type_constraints}
    if param is None or param.type_str not in allowed:
        return None
    return "tensor(float16)" in allowed[param.type_str]


def _has_float(node: ir.Node) -> bool:
    return any(v is not None and v.dtype == F32 for v in [*node.inputs, *node.outputs])


def _is_boundary_cast(node: ir.Node) -> bool:
    """A Cast between float16 and float32: where the two precisions meet (this pass's own
    Casts, on a second run). It stays as it is; converting it would only move the boundary
    one Cast further and add another."""
    if node.op_type != "Cast" or node.inputs[0] is None:
        return False
    return {node.inputs[0].dtype, node.outputs[0].dtype} == {F16, F32}


def _converts(node: ir.Node, opset: int) -> bool:
    """Whether every float32 tensor of the node that its type variables bind may be float16,
    and one at least is so bound (NonMaxSuppression's are all fixed float32: nothing in it
    can convert, and counting it would make every run report a change)."""
    if node.op_type in KEEP_FLOAT32 or not _has_float(node) or _is_boundary_cast(node):
        return False
    schema = _schema(node, opset)
    if schema is None:
        return False
    if any(v.dtype is None for v in node.outputs):
        return False  # an untyped result could be float: leave the node alone
    some = False
    sides = [(node.inputs, schema.inputs), (node.outputs, schema.outputs)]
    for values, params in sides:
        for index, value in enumerate(values):
            if value is None or value.dtype != F32:
                continue
            allows = _slot_allows_half(schema, _slot(params, index))
            if allows is False:
                return False
            some = some or allows is True
    return some


Wants = dict[tuple[int, int], ir.DataType]


def _wants(graph: ir.Graph, half: set[int], opset: int, keep_io: bool) -> Wants:
    """(id(node), input index) -> the float dtype that input must have after the rewrite."""
    wants: Wants = {}
    for node in ir.traversal.RecursiveGraphIterator(graph):
        for index, value in enumerate(node.inputs):
            if value is None or value.dtype != F32:
                continue
            wants[(id(node), index)] = _want(node, index, half, opset)
    return wants


def _want(node: ir.Node, index: int, half: set[int], opset: int) -> ir.DataType:
    if id(node) not in half:
        return F32
    schema = _schema(node, opset)
    assert schema is not None
    return F16 if _slot_allows_half(schema, _slot(schema.inputs, index)) else F32


def _convert_nodes(graph: ir.Graph, half: set[int], opset: int) -> set[int]:
    """Retype the float16 nodes' outputs, attribute tensors, Cast targets; ids now half."""
    stored: set[int] = set()
    for node in graph:
        if id(node) not in half:
            continue
        schema = _schema(node, opset)
        assert schema is not None
        _convert_attributes(node)
        for index, value in enumerate(node.outputs):
            allows = _slot_allows_half(schema, _slot(schema.outputs, index))
            if value.dtype == F32 and allows is not False:
                value.dtype = F16
                stored.add(id(value))
    return stored


def _convert_attributes(node: ir.Node) -> None:
    if node.op_type == "Cast" and node.attributes["to"].value == F32:
        node.attributes["to"] = ir.AttrInt64("to", F16)
    name = ATTRIBUTE_TENSORS.get(node.op_type)
    attr = node.attributes.get(name) if name else None
    if attr is None or attr.type != ir.AttributeType.TENSOR or attr.value.dtype != F32:
        return
    array = attr.value.numpy().astype(np.float16)
    node.attributes[name] = ir.AttrTensor(name, ir.tensor(array, name=attr.value.name))


def _users(value: ir.Value, wants) -> list[ir.DataType]:
    return [wants.get((id(use.node), use.idx), F32) for use in value.uses()]


def _read_as_half(value: ir.Value, wants) -> bool:
    """Whether something reads `value` and every reader takes it as float16."""
    users = _users(value, wants)
    return bool(users) and F32 not in users


def _convert_weights(graph: ir.Graph, wants) -> set[int]:
    """Store a float32 weight as float16 when every op that reads it computes in float16."""
    stored: set[int] = set()
    for value in graph.initializers.values():
        if value.dtype != F32 or value.is_graph_input() or not _read_as_half(value, wants):
            continue
        if value.const_value is None or value.is_graph_output():
            continue
        array = value.const_value.numpy().astype(np.float16)
        value.const_value = ir.tensor(array, name=value.name)
        value.dtype = F16
        stored.add(id(value))
    return stored


def _convert_inputs(graph: ir.Graph, wants) -> set[int]:
    """keep-io=false: float32 graph inputs take float16."""
    stored: set[int] = set()
    for value in graph.inputs:
        if value.dtype == F32 and not value.is_initializer():
            value.dtype = F16
            stored.add(id(value))
    return stored


def _insert_casts(graph: ir.Graph, wants, stored: set[int]) -> int:
    """One Cast per value and direction, right after its producer; uses move onto it."""
    made: dict[tuple[int, ir.DataType], ir.Value] = {}
    values = [*graph.inputs, *graph.initializers.values(), *(o for n in graph for o in n.outputs)]
    for value in values:
        have = F16 if id(value) in stored else value.dtype
        if have not in (F16, F32):
            continue
        for use in list(value.uses()):
            want = wants.get((id(use.node), use.idx))
            if want is None or want == have:
                continue
            key = (id(value), want)
            if key not in made:
                made[key] = _cast_after(graph, value, want)
            use.node.replace_input_with(use.idx, made[key])
    return len(made)


def _cast_after(graph: ir.Graph, value: ir.Value, to: ir.DataType) -> ir.Value:
    node = cast_node(value, to, f"{value.name}_as_{'f16' if to == F16 else 'f32'}")
    producer = value.producer()
    if producer is not None and producer.graph is graph:
        graph.insert_after(producer, node)
    elif len(graph):
        graph.insert_before(next(iter(graph)), node)
    else:
        graph.append(node)
    return node.outputs[0]


def _fix_outputs(graph: ir.Graph, stored: set[int], keep_io: bool) -> int:
    """Graph outputs computed in float16 leave as float32 (keep-io), keeping their names."""
    if not keep_io:
        return 0
    halves = [v for v in graph.outputs if id(v) in stored]
    for value in halves:
        cast_before_output(graph, value, F32)
    return len(halves)
