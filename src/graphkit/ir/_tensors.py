"""Does every tensor hold the data its type and dims claim, and every declared type make sense?

A tensor claiming dims [536870912] with 4 bytes of data is cheap to write and costs gigabytes
once something expands it; a negative dim or element type 0 (UNDEFINED) crashes numpy or ORT
far from the cause. Checked on the ModelProto, before onnx-ir or anything else allocates:
- a tensor's element type is one ONNX defines, its dims are not negative, and its data
  (raw_data, or the typed field its type keeps data in) is exactly as long as they say;
- a declared value type (graph inputs, outputs, value_info) has a defined element type and
  dims that are not negative, and its static shape is not beyond any runtime's memory.
External data is checked by _external (against the file's size), a main-graph initializer
read in place by _mapped (against its span in the file).
"""

from __future__ import annotations

import math

import onnx
import onnx_ir as ir

from graphkit.errors import InputError

_T = onnx.TensorProto
_DEFINED = frozenset(dtype.value for dtype in ir.DataType if dtype.value != _T.UNDEFINED)
_COMPLEX = frozenset({_T.COMPLEX64, _T.COMPLEX128})  # two typed entries per element
_PACKED = frozenset({_T.UINT4, _T.INT4, _T.FLOAT4E2M1, _T.UINT2, _T.INT2})  # int32_data packed
_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data",
                 "uint64_data")
# A declared static shape above this many elements (2^36: 256 GiB of float32) is not a model
# anything can run; generating inputs for it would only exhaust memory.
MAX_DECLARED_ELEMENTS = 2**36


def check_tensor(tensor: onnx.TensorProto, label: str, *, data_elsewhere: bool = False) -> None:
    """Raise InputError naming `label` unless the tensor's type, dims and data agree.

    data_elsewhere: the data is checked by whoever reads it (external or mapped data)."""
    _check_element_type(tensor.data_type, label)
    count = _element_count(tensor.dims, label)
    if tensor.HasField("segment"):
        raise InputError(f"{label}: tensor segments are not supported")
    if data_elsewhere or tensor.data_location == _T.EXTERNAL:
        return
    typed = [name for name in _TYPED_FIELDS if len(getattr(tensor, name))]
    has_raw = tensor.HasField("raw_data")
    if len(typed) + has_raw > 1:
        fields = ", ".join(["raw_data", *typed] if has_raw else typed)
        raise InputError(f"{label}: holds data in several fields ({fields}); ONNX allows one")
    if has_raw:
        _check_raw_data(tensor, count, label)
    else:
        _check_typed_data(tensor, count, label)


def _check_raw_data(tensor: onnx.TensorProto, count: int, label: str) -> None:
    if tensor.data_type == _T.STRING:
        raise InputError(f"{label}: a string tensor cannot keep its data in raw_data")
    expected = math.ceil(count * ir.DataType(tensor.data_type).bitwidth / 8)
    held = len(tensor.raw_data)
    if held != expected:
        raise InputError(
            f"{label}: holds {held} bytes of raw data, but {_claim(tensor, count)} take {expected}"
        )


def _check_typed_data(tensor: onnx.TensorProto, count: int, label: str) -> None:
    field = onnx.helper.tensor_dtype_to_field(tensor.data_type)
    if tensor.data_type in _COMPLEX:
        expected = 2 * count
    elif tensor.data_type in _PACKED:
        expected = math.ceil(count * ir.DataType(tensor.data_type).bitwidth / 8)
    else:
        expected = count
    held = len(getattr(tensor, field))
    if held != expected:
        raise InputError(
            f"{label}: holds {held} entries in {field}, but {_claim(tensor, count)} take "
            f"{expected}"
        )


def _claim(tensor: onnx.TensorProto, count: int) -> str:
    return f"{count} elements of {ir.DataType(tensor.data_type).name} (dims {list(tensor.dims)})"


def _check_element_type(data_type: int, label: str) -> None:
    if data_type not in _DEFINED:
        what = "0 (UNDEFINED)" if data_type == 0 else f"{data_type}, which ONNX does not define"
        raise InputError(f"{label}: element type {what}")


def _element_count(dims: list[int], label: str) -> int:
    if any(dim < 0 for dim in dims):
        raise InputError(f"{label}: negative dims {list(dims)}")
    return math.prod(dims)


def check_declared_type(value: onnx.ValueInfoProto, label: str) -> None:
    """Refuse a declared type that no tensor can have (see the module docstring)."""
    if value.HasField("type"):
        _check_type(value.type, f"{label} {value.name!r}")


def _check_type(type_: onnx.TypeProto, label: str) -> None:
    kind = type_.WhichOneof("value")
    if kind in {"sequence_type", "optional_type"}:
        inner = getattr(type_, kind).elem_type
        _check_type(inner, label)
        return
    if kind not in {"tensor_type", "sparse_tensor_type"}:
        return
    tensor = getattr(type_, kind)
    _check_element_type(tensor.elem_type, label)
    if not tensor.HasField("shape"):
        return
    dims = [dim.dim_value for dim in tensor.shape.dim if dim.HasField("dim_value")]
    count = _element_count(dims, label)
    if len(dims) == len(tensor.shape.dim) and count > MAX_DECLARED_ELEMENTS:
        raise InputError(
            f"{label}: declares shape {dims}, {count:.3g} elements: more than any runtime can "
            f"hold (graphkit's limit is 2^36)"
        )
