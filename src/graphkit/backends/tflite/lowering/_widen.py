"""Narrow element types computed in a wider one: float16 in float32, the small integers in
int32 and uint32 in int64, with a CAST before and after.

LiteRT's CAST converts between all of these (float16 included); its arithmetic kernels
take float32 and int32/int64, and treat int8/uint8/int16 as quantized types (some abort
without quantization parameters). An op whose entry takes the wider type but not the
node's is lowered on its inputs widened, and each output of the narrow type is cast back:
float16 values are exact in float32, and integer results wrap back to the narrow type as
ONNX's do (CAST truncates the way a C static_cast does). Ops whose result depends on the
narrow type's range, or that read a data constant of the node's type themselves, are left
out (NOT_WIDENED).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite.lowering._base import EmitContext, Lowering, Stored, known
from graphkit.targets.base import ValueFacts

WIDER: dict[ir.DataType, ir.DataType] = {
    ir.DataType.FLOAT16: ir.DataType.FLOAT,
    ir.DataType.INT8: ir.DataType.INT32,
    ir.DataType.UINT8: ir.DataType.INT32,
    ir.DataType.INT16: ir.DataType.INT32,
    ir.DataType.UINT16: ir.DataType.INT32,
    ir.DataType.UINT32: ir.DataType.INT64,
}

# the result depends on the narrow type itself (a shift's width, a bit pattern), or the
# lowering writes the node's own constants in their ONNX type
NOT_WIDENED = frozenset({"Cast", "CastLike", "BitShift", "BitwiseNot", "Clip", "Constant",
                         "ConstantOfShape", "Shape", "Size", "Range"})


def wider(op_type: str, dtype: ir.DataType | None, accepted: frozenset) -> ir.DataType | None:
    """The type the node's `dtype` is computed in (None: it is not widened)."""
    wide = WIDER.get(dtype) if dtype is not None else None
    return wide if wide in accepted and op_type not in NOT_WIDENED else None


def _dtype(values: ValueFacts, value: ir.Value | None) -> ir.DataType | None:
    if value is None:
        return None
    return values.dtype(value) or value.dtype


def widened_types(node: ir.Node, entry: Lowering, values: ValueFacts
                  ) -> dict[ir.DataType, ir.DataType]:
    """narrow -> wide for the entry's checked inputs the entry does not take as they are."""
    found = {}
    for index in entry.dtype_inputs:
        dtype = _dtype(values, node.inputs[index] if index < len(node.inputs) else None)
        if dtype is not None and dtype not in entry.dtypes:
            wide = wider(node.op_type, dtype, entry.dtypes)
            if wide is not None:
                found[dtype] = wide
    return found


@dataclass(frozen=True)
class WidenedFacts(ValueFacts):
    """The facts with some values' element types replaced by their wider ones."""

    wide: dict[int, ir.DataType] = field(default_factory=dict, compare=False)

    def type(self, value: ir.Value | None) -> ir.TypeProtocol | None:
        if value is not None and id(value) in self.wide:
            return ir.TensorType(self.wide[id(value)])
        return super().type(value)


def emit_widened(ctx: EmitContext, node: ir.Node, entry: Lowering,
                 types: dict[ir.DataType, ir.DataType]) -> None:
    """entry.emit on the node's narrow inputs cast to their wide type; its narrow outputs
    cast back."""
    base = ctx.values
    inputs = list({id(v): v for v in node.inputs
                   if v is not None and _dtype(base, v) in types}.values())
    outputs = [v for v in node.outputs if v is not None and _dtype(base, v) in types]
    saved = {id(v): ctx.stored.get(id(v)) for v in inputs}
    transposed = ctx.transposed
    for value in inputs:
        wide = np.dtype(types[_dtype(base, value)].numpy())
        array = known(value, base)
        if array is not None and id(value) not in ctx.stored:
            ctx.stored[id(value)] = Stored(ctx.const(np.asarray(array).astype(wide),
                                                     value.name or "const"))
            continue
        perm = ctx.perm_of(value)
        held = ctx.input(value, perm)
        shape = ctx.builder.tensors[held].shape
        made = ctx.temp(f"{value.name}_wide", wide, None if shape is None else list(shape))
        ctx.op("CAST", [held], [made])
        ctx.stored[id(value)] = Stored(made, perm)
    wide_of = {id(v): types[_dtype(base, v)] for v in [*inputs, *outputs]}
    ctx.values = WidenedFacts(types=base.types, shapes=base.shapes, folded=base.folded,
                              wide=wide_of)
    ctx.transposed = {}
    try:
        entry.emit(ctx, node)
    finally:
        ctx.values = base
        ctx.transposed = transposed
        for key, stored in saved.items():
            if stored is None:
                ctx.stored.pop(key, None)
            else:
                ctx.stored[key] = stored
    for value in outputs:
        held = ctx.stored[id(value)]
        narrow = ctx.output(value, held.perm)
        ctx.op("CAST", [held.tensor], [narrow])
