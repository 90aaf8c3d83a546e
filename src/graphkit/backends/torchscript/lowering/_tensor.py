"""Lowering entries: casts, constants, ranges, and gather/scatter/selection ops."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch

from graphkit.backends.torchscript._dtypes import TORCH_DTYPES
from graphkit.backends.torchscript.kernels import creation as ck
from graphkit.backends.torchscript.kernels import indexing as ik
from graphkit.backends.torchscript.lowering._base import (
    ALL_TORCH,
    NUMERIC,
    SHELL_DTYPES,
    UNLOWERED_DTYPES,
    EmitContext,
    Lowering,
    attr,
    attr_int,
    attr_str,
    constant,
    kernel,
    static_rank,
)

TORCH_ONLY = ALL_TORCH - SHELL_DTYPES


def _cast(cx: EmitContext, node: ir.Node) -> list:
    dtype = TORCH_DTYPES[ir.DataType(attr_int(node, "to", 1))]
    return cx.call(ck.cast, [cx.inputs(node)[0], dtype])


def _check_cast(node: ir.Node, opset: int) -> str | None:
    to = ir.DataType(attr_int(node, "to", 0))
    if to in UNLOWERED_DTYPES or to not in TORCH_DTYPES:
        return f"torch has no {to.name.lower()} tensors to cast to"
    return None


CONSTANT_FORMS = ("value", "value_float", "value_floats", "value_int", "value_ints")


def _constant_array(node: ir.Node) -> np.ndarray:
    tensor = attr(node, "value")
    if tensor is not None:
        return tensor.numpy()
    if "value_float" in node.attributes or "value_floats" in node.attributes:
        return np.asarray(attr(node, "value_float", attr(node, "value_floats")), dtype=np.float32)
    return np.asarray(attr(node, "value_int", attr(node, "value_ints")), dtype=np.int64)


def _constant(cx: EmitContext, node: ir.Node) -> list:
    return [cx.const(_constant_array(node), node.outputs[0].name)]


def _check_constant(node: ir.Node, opset: int) -> str | None:
    if not any(name in node.attributes for name in CONSTANT_FORMS):
        kinds = ", ".join(node.attributes) or "none"
        return f"Constant given as {kinds} has no torch tensor form"
    tensor = attr(node, "value")
    if tensor is not None and not isinstance(tensor, ir.TensorProtocol):  # a hostile file's
        return f"Constant's value is a {type(tensor).__name__}, not a tensor"
    if tensor is not None and tensor.dtype in UNLOWERED_DTYPES:
        return f"torch has no {tensor.dtype.name.lower()} tensors for this constant"
    return None


def _constant_of_shape(cx: EmitContext, node: ir.Node) -> list:
    tensor = attr(node, "value")
    value = tensor.numpy() if tensor is not None else np.zeros(1, dtype=np.float32)
    fill = cx.const(value, f"{node.outputs[0].name}_fill")
    return cx.call(ck.constant_of_shape, [cx.inputs(node)[0], fill])


def _eye_like(cx: EmitContext, node: ir.Node) -> list:
    dtype = attr(node, "dtype")
    torch_dtype = TORCH_DTYPES[ir.DataType(dtype)] if dtype is not None else None
    return cx.call(ck.eye_like, [cx.inputs(node)[0], attr_int(node, "k", 0), torch_dtype])


def _top_k(cx: EmitContext, node: ir.Node) -> list:
    x, k = cx.inputs(node, 2)
    if cx.opset < 10:
        k = cx.const(np.asarray([attr_int(node, "k", 1)], dtype=np.int64), f"{node.name}_k")
    args = [x, k, attr_int(node, "axis", -1), attr_int(node, "largest", 1),
            attr_int(node, "sorted", 1)]
    return cx.call(ik.top_k, args, 2)


def _unique(cx: EmitContext, node: ir.Node) -> list:
    axis = attr(node, "axis")
    args = [cx.inputs(node)[0], None if axis is None else int(axis), attr_int(node, "sorted", 1)]
    return cx.call(ik.unique, args, 4)[: len(node.outputs)]


def _compress(cx: EmitContext, node: ir.Node) -> list:
    axis = attr(node, "axis")
    return cx.call(ik.compress, [*cx.inputs(node, 2), None if axis is None else int(axis)])


def _scatter(reduction_default: str):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        reduction = attr_str(node, "reduction", reduction_default)
        return cx.call(ik.scatter_elements, [*cx.inputs(node, 3), attr_int(node, "axis", 0),
                                             reduction])
    return emit


def _window(kind: str):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        dtype = TORCH_DTYPES[ir.DataType(attr_int(node, "output_datatype", 1))]
        return cx.call(ck.window, [*cx.inputs(node, 1), kind, attr_int(node, "periodic", 1),
                                   dtype])
    return emit


def _check_window(node: ir.Node, opset: int) -> str | None:
    # The output's type is an attribute, which the dtype filter on values cannot see.
    dtype = ir.DataType(attr_int(node, "output_datatype", 1))
    if dtype not in NUMERIC:
        return f"{node.op_type} is not lowered with output_datatype {dtype.name.lower()}"
    return None


def _gather(cx: EmitContext, node: ir.Node) -> list:
    """A constant scalar index is torch.select (which takes a negative index as ONNX does),
    constant non-negative indices index_select; others the kernel, which wraps them."""
    indices = constant(node.inputs[1])
    axis = attr_int(node, "axis", 0)
    rank = static_rank(node.inputs[0])
    if indices is None or (axis < 0 and rank is None):
        return cx.call(ik.gather, [*cx.inputs(node, 2), axis])
    axis = axis + rank if axis < 0 else axis
    array = indices.numpy()
    data = cx.inputs(node)[0]
    if array.ndim == 0:
        return cx.call(torch.select, [data, axis, int(array)])
    if array.ndim == 1 and array.size > 0 and array.min() >= 0:
        index = cx.const(array.astype(np.int64), f"{node.name}_indices")
        return cx.call(torch.index_select, [data, axis, index])
    return cx.call(ik.gather, [*cx.inputs(node, 2), axis])


def entries() -> dict[str, tuple[Lowering, ...]]:
    windows = {
        f"{kind.capitalize()}Window": (Lowering(_window(kind), since=17, dtypes=NUMERIC,
                                                check=_check_window),)
        for kind in ("hann", "hamming", "blackman")
    }
    return windows | {
        "Cast": (Lowering(_cast, dtypes=TORCH_ONLY, check=_check_cast),),
        "CastLike": (Lowering(kernel(ck.cast_like, 2), since=15, dtypes=TORCH_ONLY),),
        "Constant": (Lowering(_constant, dtypes=ALL_TORCH, check=_check_constant),),
        "ConstantOfShape": (Lowering(_constant_of_shape, since=9, dtypes=TORCH_ONLY),),
        "Range": (Lowering(kernel(ck.range_, 3), since=11, dtypes=NUMERIC),),
        "EyeLike": (Lowering(_eye_like, since=9, dtypes=TORCH_ONLY),),
        "OneHot": (Lowering(kernel(ck.one_hot, 3, ("axis", -1)), since=9, dtypes=NUMERIC),),
        "Trilu": (Lowering(kernel(ck.trilu, 2, ("upper", 1)), since=14, dtypes=TORCH_ONLY),),
        "NonZero": (Lowering(kernel(ck.nonzero, 1), since=9, dtypes=TORCH_ONLY),),
        "Det": (Lowering(kernel(ck.det, 1), since=11, dtypes=NUMERIC),),
        "Gather": (Lowering(_gather, dtypes=TORCH_ONLY),),
        "GatherElements": (Lowering(kernel(ik.gather_elements, 2, ("axis", 0)), since=11,
                                    dtypes=TORCH_ONLY),),
        "GatherND": (Lowering(kernel(ik.gather_nd, 2, ("batch_dims", 0)), since=11,
                              dtypes=TORCH_ONLY),),
        "Scatter": (Lowering(_scatter("none"), since=9, dtypes=TORCH_ONLY),),
        "ScatterElements": (Lowering(_scatter("none"), since=11, dtypes=TORCH_ONLY),),
        "ScatterND": (Lowering(kernel(ik.scatter_nd, 3, ("reduction", "none")), since=11,
                               dtypes=TORCH_ONLY),),
        "Compress": (Lowering(_compress, since=9, dtypes=TORCH_ONLY),),
        "TopK": (Lowering(_top_k, dtypes=NUMERIC),),
        "Unique": (Lowering(_unique, since=11, dtypes=NUMERIC),),
        "ReverseSequence": (Lowering(kernel(ik.reverse_sequence, 2, ("batch_axis", 1),
                                            ("time_axis", 0)), since=10, dtypes=TORCH_ONLY),),
    }
