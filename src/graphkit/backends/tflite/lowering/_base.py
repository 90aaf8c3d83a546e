"""What a lowering entry is, and the context an entry emits through.

An entry says which builtins an ONNX op becomes, which dtypes it takes, and `check`: the
one sentence why this node cannot be lowered (None when it can). The emitter lowers a
node only when `check` returns None, and the tflite target reports the same sentence, so
analysis and emission cannot disagree.

Layout: a tensor may be kept transposed from its ONNX order (`perm`: stored =
onnx.transpose(perm)). NHWC builtins ask for their input as NHWC; unary ops keep whatever
layout their input has; a TRANSPOSE is emitted only where an op needs another layout,
so a chain of NHWC ops has none between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import ModelBuilder
from graphkit.backends.tflite.lowering._constants import (  # noqa: F401 - the modules import them here
    attr,
    const_or_dequantized,
    constant_node_value,
    dequantized,
)
from graphkit.backends.tflite.lowering._fold import folded
from graphkit.targets.base import ValueFacts

Perm = tuple[int, ...] | None
NHWC: tuple[int, ...] = (0, 2, 3, 1)
NCHW_OF_NHWC: tuple[int, ...] = (0, 3, 1, 2)

F32 = frozenset({ir.DataType.FLOAT})
FLOATS = frozenset({ir.DataType.FLOAT})
NUMERIC = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64})
INDEX = frozenset({ir.DataType.INT32, ir.DataType.INT64})
BOOL = frozenset({ir.DataType.BOOL})
# LiteRT's kernels take int8/uint8/int16 as quantized types: without quantization
# parameters some abort the process (EQUAL on int8 does), so only ops that move bytes
# (MOVE_DATA) take them, and float16 is left to a pass that widens it.
ANY_DATA = frozenset({ir.DataType.FLOAT, ir.DataType.INT32, ir.DataType.INT64, ir.DataType.BOOL})
MOVE_DATA = ANY_DATA | {ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16}
# RESHAPE, SQUEEZE, EXPAND_DIMS and TRANSPOSE move float64 too, which no arithmetic
# kernel of LiteRT takes (float64 is computed nowhere, only cast and rearranged)
REARRANGE = MOVE_DATA | {ir.DataType.DOUBLE}
# LiteRT's CAST converts between all of these (float16, float64 and the unsigned types
# included), each conversion a C++ static_cast but one (cast_refused)
CAST_TYPES = MOVE_DATA | {ir.DataType.FLOAT16, ir.DataType.UINT16, ir.DataType.UINT32,
                          ir.DataType.DOUBLE}

# Steps any unrolled form writes out (Scan, LinearAttention, recurrences without a builtin):
# each is a copy of its body in the file.
MAX_STEPS = 1024


def cast_refused(source: ir.DataType | None, target: ir.DataType) -> str | None:
    """Why LiteRT's CAST does not convert `source` to `target` as ONNX does (None: it
    does). Its float64 -> float16 goes through float32, rounding twice: a value just
    above a float16 midpoint lands on it in float32, then rounds to even, down."""
    if source == ir.DataType.DOUBLE and target == ir.DataType.FLOAT16:
        return ("LiteRT's CAST rounds double to float16 through float32 (twice, not "
                "always to the nearest float16)")
    return None


# node, value facts -> why the entry cannot lower the node (None: it can)
LoweringCheck = Callable[[ir.Node, ValueFacts], "str | None"]
Emit = Callable[["EmitContext", ir.Node], None]


@dataclass(frozen=True)
class Lowering:
    builtins: tuple[str, ...]
    emit: Emit
    dtypes: frozenset[ir.DataType] = F32
    dtype_inputs: tuple[int, ...] = (0,)
    check: LoweringCheck | None = None
    since: int = 1  # the first opset whose semantics `emit` follows
    # its kernels give ONNX's value on inputs without elements (SUM of nothing is 0);
    # otherwise such a node is refused unless its outputs have none either (_fold)
    takes_empty: bool = False


def entry(builtins: str | tuple[str, ...], emit: Emit, **kwargs: Any) -> Lowering:
    names = (builtins,) if isinstance(builtins, str) else builtins
    return Lowering(names, emit, **kwargs)


# Helpers the checks share -------------------------------------------------------------

def needed(value: ir.Value | None) -> bool:
    """Whether anything reads the value: a node or the graph's outputs."""
    return value is not None and (bool(value.uses()) or value.is_graph_output())


def known(value: ir.Value | None, values: ValueFacts | None) -> np.ndarray | None:
    """The value's data when converting: a constant (const_or_dequantized), or computed
    from constants and static shapes (_fold: those nodes are not emitted)."""
    array = const_or_dequantized(value)
    return array if array is not None or values is None else folded(value, values)


def static_shape(values: ValueFacts, value: ir.Value | None) -> tuple[int, ...] | None:
    shape = values.shape(value) if value is not None else None
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return tuple(shape)


def static_but_batch(values: ValueFacts, value: ir.Value | None) -> tuple[int, ...] | None:
    """The shape with the batch (dim 0) as 1 when it is dynamic; None where another dim is
    not static. Kernels recompute every shape from the inputs when the model is prepared,
    so an NCHW op needs only its channel and spatial dims when converting."""
    shape = values.shape(value) if value is not None else None
    if shape is None or len(shape) == 0 or not all(isinstance(d, int) for d in shape[1:]):
        return None
    return (shape[0] if isinstance(shape[0], int) else 1, *shape[1:])


def rank(values: ValueFacts, value: ir.Value | None) -> int | None:
    shape = values.shape(value) if value is not None else None
    return None if shape is None else len(shape)


def need_constant(node: ir.Node, index: int, what: str,
                  values: ValueFacts | None = None) -> str | None:
    if index < len(node.inputs) and node.inputs[index] is not None \
            and known(node.inputs[index], values) is None:
        return f"{node.op_type}'s {what} (input {index}) must be a constant"
    return None


def need_static(values: ValueFacts, node: ir.Node, index: int = 0) -> str | None:
    if static_shape(values, node.inputs[index]) is None:
        return f"{node.op_type} needs a static input shape"
    return None


def first(*reasons: Callable[[], str | None]) -> str | None:
    for reason in reasons:
        found = reason()
        if found is not None:
            return found
    return None


# The emission context ----------------------------------------------------------------

@dataclass
class Stored:
    tensor: int
    perm: Perm = None  # None: the ONNX order


@dataclass
class EmitContext:
    builder: ModelBuilder
    values: ValueFacts
    stored: dict[int, Stored] = field(default_factory=dict)  # id(ir.Value) -> its tensor
    transposed: dict[tuple[int, Perm], int] = field(default_factory=dict)

    def dtype(self, value: ir.Value) -> np.dtype:
        dtype = self.values.dtype(value) or value.dtype
        if dtype is None:
            raise ValueError(f"value '{value.name}' has no known type")
        return np.dtype(dtype.numpy())

    def image_shape(self, value: ir.Value) -> tuple[int, ...]:
        """An NCHW value's shape, the batch as 1 when it is dynamic (static_but_batch)."""
        shape = static_but_batch(self.values, value)
        if shape is None:
            raise ValueError(f"value '{value.name}' has no static channel and spatial dims")
        return shape

    def shape(self, value: ir.Value) -> tuple[int, ...]:
        shape = static_shape(self.values, value)
        if shape is None:
            raise ValueError(f"value '{value.name}' has no static shape")
        return shape

    def shape_or_none(self, value: ir.Value) -> list[int] | None:
        shape = self.values.shape(value)
        if shape is None:
            return None
        return [d if isinstance(d, int) else 1 for d in shape]

    def rank(self, value: ir.Value) -> int:
        shape = self.values.shape(value)
        if shape is None:
            raise ValueError(f"value '{value.name}' has no known rank")
        return len(shape)

    def perm_of(self, value: ir.Value) -> Perm:
        known = self.stored.get(id(value))
        return known.perm if known is not None else None

    def input(self, value: ir.Value, perm: Perm = None) -> int:
        """The tensor holding `value` in layout `perm` (a TRANSPOSE when it is held in
        another one; constants are transposed here instead)."""
        array = known(value, self.values)
        if array is not None and id(value) not in self.stored:
            return self.value_const(_apply(array, perm), value.name or "const")
        stored = self.stored[id(value)]
        if stored.perm == perm:
            return stored.tensor
        key = (id(value), perm)
        if key not in self.transposed:
            step = _compose(stored.perm, perm, self.rank(value))
            shape = self._stored_shape(value, perm)
            out = self.builder.tensor(f"{value.name}_t", self.dtype(value), shape)
            held = self._stored_shape(value, stored.perm)
            target = _same_bytes_shape(self.values, value, perm, held, step)
            if target is not None:
                # [N,1,1,C] <-> [N,C,1,1]: the same bytes, a RESHAPE and no TRANSPOSE
                self.builder.operator("RESHAPE", [stored.tensor, self.int32(target)], [out])
            else:
                self.builder.operator("TRANSPOSE", [stored.tensor, self.int32(step)], [out])
            self.transposed[key] = out
        return self.transposed[key]

    def output(self, value: ir.Value, perm: Perm = None) -> int:
        """A new tensor for a node's output, held in layout `perm`."""
        shape = self._stored_shape(value, perm)
        tensor = self.builder.tensor(value.name or "t", self.dtype(value), shape)
        self.stored[id(value)] = Stored(tensor, perm)
        return tensor

    def alias(self, value: ir.Value, source: ir.Value) -> None:
        """`value` is `source` (Identity, Dropout at inference)."""
        if id(source) not in self.stored:  # a constant
            self.stored[id(source)] = Stored(self.input(source))
        self.stored[id(value)] = self.stored[id(source)]

    def temp(self, name: str, dtype: Any, shape: list[int] | None) -> int:
        return self.builder.tensor(name, np.dtype(dtype), shape)

    def const(self, array: np.ndarray, name: str = "const") -> int:
        return self.builder.constant(name, np.asarray(array))

    def value_const(self, array: np.ndarray, name: str) -> int:
        """A known ONNX value. One without elements is BROADCAST_TO from a one-element
        constant: LiteRT refuses a model with a constant tensor of no bytes."""
        array = np.asarray(array)
        if array.size or array.ndim == 0:
            return self.const(array, name)
        one = self.const(np.zeros((1,) * array.ndim, array.dtype), name)
        out = self.builder.tensor(name, array.dtype, list(array.shape))
        self.op("BROADCAST_TO", [one, self.int32(array.shape)], [out])
        return out

    def int32(self, values: Any) -> int:
        return self.const(np.asarray(values, dtype=np.int32), "shape")

    def op(self, builtin: str, inputs: list[int], outputs: list[int], options: Any = None) -> None:
        self.builder.operator(builtin, inputs, outputs, options)

    def _stored_shape(self, value: ir.Value, perm: Perm) -> list[int] | None:
        shape = self.shape_or_none(value)
        if shape is None or perm is None:
            return shape
        return [shape[p] for p in perm]


def _apply(array: np.ndarray, perm: Perm) -> np.ndarray:
    return array if perm is None else np.transpose(array, perm)


def _compose(held: Perm, wanted: Perm, rank_: int) -> list[int]:
    """The TRANSPOSE perm from a tensor held as `held` to one held as `wanted`."""
    identity = tuple(range(rank_))
    held = held or identity
    wanted = wanted or identity
    position = {axis: index for index, axis in enumerate(held)}
    return [position[axis] for axis in wanted]


def _same_bytes_shape(values: ValueFacts, value: ir.Value, perm: Perm, held: list[int] | None,
                      step: list[int]) -> list[int] | None:
    """The RESHAPE target that replaces a TRANSPOSE moving only dims of size 1 (a dynamic
    batch, left in place, as -1); None where the TRANSPOSE is needed."""
    shape = static_but_batch(values, value)
    if shape is None or held is None or step[0] != 0 or not _moves_only_ones(held, step):
        return None
    target = [shape[axis] for axis in perm] if perm is not None else list(shape)
    if not isinstance((values.shape(value) or (0,))[0], int):
        target[0] = -1
    return target


def _moves_only_ones(shape: list[int], step: list[int]) -> bool:
    """Whether transposing `shape` by `step` keeps every dim larger than 1 in its order."""
    big = [axis for axis in step if shape[axis] != 1]
    return big == sorted(big)
