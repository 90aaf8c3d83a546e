"""The TFLite lowering table: ONNX op -> the builtin(s) it becomes, with its options.

Built in one place (`lowering_table`) from one module per op family. It is the single
source of truth for what the emitter can write: the emitter lowers exactly the nodes
`unsupported_reason` accepts, and the tflite target (diagnose) reports the same sentence
for the ones it declines.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.backends._lowering_table import ONNX_DOMAINS, entry_at, merge_families
from graphkit.backends.tflite._flatbuffer import INT32_MAX, TENSOR_TYPES
from graphkit.backends.tflite.lowering import (
    _attention,
    _axis_ops,
    _bitwise,
    _col2im,
    _composite,
    _control,
    _conv,
    _conv_transpose,
    _crop,
    _cumulative,
    _deform,
    _det,
    _einsum,
    _elementwise,
    _fused,
    _gather,
    _generate,
    _grid,
    _image,
    _indicator,
    _math,
    _matmul,
    _ml,
    _ngrams,
    _nhwc,
    _nms,
    _pool,
    _qconv,
    _qlinear,
    _quant,
    _recurrent,
    _reduce,
    _remainder,
    _roi,
    _scan,
    _scatter,
    _select,
    _slice,
    _spectral,
    _tensor,
    _training,
    _tree,
)
from graphkit.backends.tflite.lowering._base import EmitContext, Lowering
from graphkit.backends.tflite.lowering._control import graph_attributes
from graphkit.backends.tflite.lowering._fold import node_folds
from graphkit.backends.tflite.lowering._function import body_lowers, emit_body
from graphkit.backends.tflite.lowering._refine import refined
from graphkit.backends.tflite.lowering._widen import emit_widened, widened_types, wider
from graphkit.ir._schema import type_conflict
from graphkit.targets.base import ValueFacts

# The opsets whose op definitions the entries were written against. A newer model is
# lowered where its op's definition is still the one of CHECKED_OPSET (onnx's schemas say
# so), and refused where ONNX changed the op since; an older one (from MIN_OPSET) where
# its op's definition is still the one of opset WRITTEN_FROM (Not, And: unchanged since
# opset 1), or where its entry was written for the older definition (Scan's since=8).
MIN_OPSET = 1
WRITTEN_FROM = 9
CHECKED_OPSET = 24


def _signature(schema) -> tuple:
    """What a lowering reads of an op's definition: its inputs, outputs and attributes
    (names, optionality, defaults), without the element types each allows."""
    attributes = sorted((name, a.type, a.default_value.SerializeToString())
                        for name, a in schema.attributes.items())
    return ([(i.name, i.option) for i in schema.inputs],
            [(o.name, o.option) for o in schema.outputs], attributes)


def opset_range() -> tuple[int, int]:
    return MIN_OPSET, max(CHECKED_OPSET, onnx.defs.onnx_opset_version())


def _changed_before_written(op: str, opset: int, entry: Lowering | None) -> str | None:
    """Why a node at an opset before WRITTEN_FROM is not lowered (None: the op's definition
    at that opset is the one of WRITTEN_FROM, as for And, Or, Xor and Not, or the entry
    that handles it names that definition's opset as its `since`, as Scan's 8 does)."""
    if opset >= WRITTEN_FROM:
        return None
    try:
        then = onnx.defs.get_schema(op, opset).since_version
        later = onnx.defs.get_schema(op, WRITTEN_FROM).since_version
    except onnx.defs.SchemaError:
        return None  # not an op onnx knows at that opset: the table lookup says so
    if then == later or entry is not None and entry.since == then > 1:
        return None  # (since=1 is every entry's default, not a claim about opset 1)
    return (f"ONNX redefined {op} at opset {later}; graphkit's TFLite lowering follows the "
            f"definitions from opset {WRITTEN_FROM} on (convert-opset{{to={WRITTEN_FROM}}} "
            "rewrites it)")


def _changed_since_checked(op: str, opset: int, entry: Lowering | None) -> str | None:
    """Why a node at an opset newer than CHECKED_OPSET is not lowered (None: same op, or
    an entry written for the newer definition)."""
    if opset <= CHECKED_OPSET or entry is not None and entry.since > CHECKED_OPSET:
        return None
    try:
        now = onnx.defs.get_schema(op, opset).since_version
    except onnx.defs.SchemaError:
        return None  # not an op onnx knows: the table lookup says so
    try:
        checked = onnx.defs.get_schema(op, CHECKED_OPSET)
    except onnx.defs.SchemaError:
        checked = None
    if checked is not None and _signature(checked) == _signature(onnx.defs.get_schema(op, opset)):
        return None  # redefined for new element types only: the lowering checks types itself
    return (f"ONNX redefined {op} at opset {now}; graphkit's TFLite lowering follows its "
            f"opset-{CHECKED_OPSET} definition (convert-opset{{to={CHECKED_OPSET}}} rewrites it)")


@cache
def lowering_table() -> Mapping[str, tuple[Lowering, ...]]:
    """op type -> its entries, ordered by the opset each starts at."""
    return merge_families((
        _elementwise, _generate, _tensor, _gather, _reduce, _matmul, _conv, _image, _composite,
        _pool, _quant, _qlinear, _qconv, _recurrent, _nms, _control, _axis_ops, _conv_transpose,
        _scatter, _bitwise, _math, _indicator, _slice, _ngrams, _scan, _select, _remainder,
        _grid, _col2im, _roi, _deform, _attention, _cumulative, _spectral, _crop, _det, _einsum,
    ))


# Domains besides ai.onnx whose ops the emitter lowers: domain -> its family modules
OTHER_DOMAINS = {_ml.ML_DOMAIN: (_ml, _tree), _training.TRAINING_DOMAIN: (_training,)}


@cache
def domain_table(domain: str) -> Mapping[str, tuple[Lowering, ...]]:
    """The entries of an ONNX domain besides ai.onnx (OTHER_DOMAINS), keyed by op type."""
    return merge_families(OTHER_DOMAINS.get(domain, ()))


@cache
def local_tables() -> Mapping[str, Mapping[str, tuple[Lowering, ...]]]:
    """graphkit's own domains -> op -> entries: the model-local functions that convert's
    steps for this emitter write (convert-layout's NHWC forms, outline-gelu's GELU)."""
    return {
        _nhwc.NHWC_DOMAIN: {op: tuple(found) for op, found in _nhwc.entries().items()},
        _fused.FUSED_DOMAIN: {op: tuple(found) for op, found in _fused.entries().items()},
    }


LOCAL_DOMAINS = frozenset({_nhwc.NHWC_DOMAIN, _fused.FUSED_DOMAIN})


def entry_for(node: ir.Node, opset: int) -> Lowering | None:
    """The entry that handles the node's op at this opset (the latest one not after it)."""
    if node.domain in LOCAL_DOMAINS:
        found = local_tables()[node.domain].get(node.op_type, ())
        candidates = [e for e in found if e.since <= opset]
        return candidates[-1] if candidates else None
    if node.domain in OTHER_DOMAINS:
        version = node.graph.opset_imports.get(node.domain, 1) if node.graph else 1
        candidates = [e for e in domain_table(node.domain).get(node.op_type, ())
                      if e.since <= version]
        return candidates[-1] if candidates else None
    return entry_at(lowering_table(), node, opset)


def emit_node(ctx: EmitContext, node: ir.Node, opset: int) -> None:
    """Lower one node unsupported_reason accepts: a node that folds needs nothing written
    (its outputs become constants where they are read); one its entry declines is an op
    ONNX defines as a function, lowered as its body (_function)."""
    ctx.values = refined(node.graph, ctx.values)
    if node_folds(node, ctx.values):
        return
    if _direct_reason(node, opset, ctx.values) is None:
        entry = entry_for(node, opset)
        types = widened_types(node, entry, ctx.values)
        if types:  # float16 or a small integer type, computed in a wider one (_widen)
            emit_widened(ctx, node, entry, types)
        else:
            entry.emit(ctx, node)
        return
    emit_body(ctx, node, opset, emit_node)


def unsupported_reason(node: ir.Node, opset: int, values: ValueFacts | None = None) -> str | None:
    """None when the emitter lowers the node as written; else one sentence why not."""
    values = refined(node.graph, values if values is not None else ValueFacts())
    if node_folds(node, values):
        return None  # computed when converting: written as constants (_fold)
    reason = _direct_reason(node, opset, values)
    if reason is None or not body_lowers(node, opset, values, unsupported_reason):
        return reason
    return None  # lowered as its ONNX function body (_function)


def lowers_by_body(node: ir.Node, opset: int, values: ValueFacts) -> bool:
    """Whether the node is lowered as its function body (the table's row does not apply)."""
    values = refined(node.graph, values)
    return _direct_reason(node, opset, values) is not None \
        and body_lowers(node, opset, values, unsupported_reason)


def takes_double(node: ir.Node, opset: int) -> bool:
    """Whether the node's own entry takes float64 (Cast, and the ops that only rearrange
    it): no other lowering computes in it."""
    entry = entry_for(node, opset)
    return entry is not None and ir.DataType.DOUBLE in entry.dtypes


# ai.onnx ops whose inputs broadcast together, numpy's way
BROADCASTING = frozenset({
    "Add", "Sub", "Mul", "Div", "Mod", "Pow", "And", "Or", "Xor", "Equal", "Greater",
    "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Min", "Sum", "Mean", "Where", "BitShift",
    "BitwiseAnd", "BitwiseOr", "BitwiseXor",
})


def _broadcast_conflict(node: ir.Node, values: ValueFacts) -> str | None:
    """Where the inputs' known dims cannot broadcast together (a symbolic dim may be
    anything), why; else None."""
    if node.domain not in ONNX_DOMAINS or node.op_type not in BROADCASTING:
        return None
    shapes = [values.shape(v) for v in node.inputs if v is not None]
    if any(shape is None for shape in shapes):
        return None
    for axis in range(1, max((len(shape) for shape in shapes), default=0) + 1):
        sizes = {shape[-axis] for shape in shapes if len(shape) >= axis
                 and isinstance(shape[-axis], int) and shape[-axis] != 1}
        if len(sizes) > 1:
            return f"input shapes {[list(shape) for shape in shapes]} do not broadcast"
    return None


def _direct_reason(node: ir.Node, opset: int, values: ValueFacts) -> str | None:
    """Why the op's own entry does not lower the node (None: it does)."""
    if node.domain not in ONNX_DOMAINS | LOCAL_DOMAINS | OTHER_DOMAINS.keys():
        return f"graphkit's TFLite emitter has no ops from domain '{node.domain}'"
    table = local_tables().get(node.domain) or (
        domain_table(node.domain) if node.domain in OTHER_DOMAINS else lowering_table())
    entries = table.get(node.op_type)
    if not entries:
        return f"graphkit's TFLite emitter has no lowering for {node.op_type} yet"
    entry = entry_for(node, opset)
    changed = None if node.domain in OTHER_DOMAINS else \
        _changed_since_checked(node.op_type, opset, entry) \
        or _changed_before_written(node.op_type, opset, entry)
    if changed is not None:
        return changed
    if entry is None:
        return (f"graphkit's TFLite emitter lowers {node.op_type} from opset "
                f"{entries[0].since} on; this model uses opset {opset}")
    if any(_not_a_tensor(values, v) for v in [*node.inputs, *node.outputs] if v is not None):
        return f"{node.op_type}: graphkit's TFLite emitter takes tensors only (no sequences " \
            "or optionals)"
    untyped = next((v for v in [*node.inputs, *node.outputs] if v is not None
                    and not ValueFacts.is_constant(v) and not has_tensor_type(values, v)), None)
    if untyped is not None:  # a constant may be folded; a computed value needs a tensor
        return (f"{node.op_type}: '{untyped.name}' is "
                f"{(values.dtype(untyped) or untyped.dtype).name.lower()}, "
                "which no TFLite tensor holds")
    conflict = type_conflict(node, opset, lambda v: values.dtype(v) or v.dtype) \
        or _broadcast_conflict(node, values)
    if conflict is not None:  # the model is ill-formed: LiteRT's kernels would refuse it
        return f"{node.op_type}: {conflict}"
    # Split leaves its empty parts out (_slice.py), and Concat its empty inputs (_tensor.py)
    outputs = [] if node.op_type == "Split" else list(node.outputs)
    inputs = [] if node.op_type == "Concat" or entry.takes_empty else \
        [node.inputs[i] for i in entry.dtype_inputs if i < len(node.inputs)]
    empty = _empty_value(node, inputs + outputs, values)
    if empty is None and node.op_type != "Concat":
        empty = _empty_value(node, [v for v in node.inputs if _split_part(v)], values)
    if empty is not None:
        return f"{node.op_type}: '{empty}' has no elements, which graphkit does not lower"
    for index in entry.dtype_inputs:
        value = node.inputs[index] if index < len(node.inputs) else None
        dtype = values.dtype(value) if value is not None else None
        dtype = dtype or (value.dtype if value is not None else None)
        if dtype is None:
            return f"{node.op_type}: the type of input {index} is unknown"
        if dtype not in entry.dtypes and wider(node.op_type, dtype, entry.dtypes) is None:
            return f"graphkit's TFLite lowering of {node.op_type} takes no {dtype.name.lower()}"
    return entry.check(node, values) if entry.check is not None else None


def input_refused(value: ir.Value, values: ValueFacts) -> str | None:
    """Why the emitter cannot make a tensor for a graph input (None: it can): a type no
    TFLite tensor holds, or a dim past the schema's int32 dims."""
    if not has_tensor_type(values, value):
        return (f"input '{value.name}': its type "
                f"{(values.dtype(value) or value.dtype).name.lower()} is one no TFLite "
                "tensor holds")
    shape = values.shape(value)
    if shape is not None and any(isinstance(d, int) and d > INT32_MAX for d in shape):
        return f"input '{value.name}': a dim over {INT32_MAX}, past TFLite's int32 dims"
    return None


def has_tensor_type(values: ValueFacts, value: ir.Value) -> bool:
    """Whether a TFLite tensor can hold the value's type (True while the type is unknown):
    TFLite has no float8, bfloat16, 4-bit or complex tensors, and none are widened (_widen)."""
    dtype = values.dtype(value) or value.dtype
    if dtype is None:
        return True
    try:
        return np.dtype(dtype.numpy()) in TENSOR_TYPES
    except TypeError:  # a type numpy has no dtype for
        return False


def _not_a_tensor(values: ValueFacts, value: ir.Value) -> bool:
    found = values.type(value)
    return found is not None and not isinstance(found, ir.TensorType)


def _split_part(value: ir.Value | None) -> bool:
    producer = value.producer() if value is not None else None
    return producer is not None and producer.op_type == "Split"


def _empty_value(node: ir.Node, chosen: list, values: ValueFacts) -> str | None:
    for value in chosen:
        shape = values.shape(value) if value is not None else None
        if shape is not None and 0 in shape:
            return value.name
    return None


__all__ = ["LOCAL_DOMAINS", "EmitContext", "Lowering", "emit_node", "entry_for",
           "graph_attributes", "lowering_table", "lowers_by_body", "node_folds", "opset_range",
           "refined", "takes_double", "unsupported_reason"]
