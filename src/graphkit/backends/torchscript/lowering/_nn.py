"""Lowering entries: convolution, pooling, dense products, normalization, quantization."""

from __future__ import annotations

import onnx_ir as ir
import torch

from graphkit.backends.torchscript._dtypes import TORCH_DTYPES
from graphkit.backends.torchscript.kernels import conv as cv
from graphkit.backends.torchscript.kernels import dense as dn
from graphkit.backends.torchscript.kernels import resize as rs
from graphkit.backends.torchscript.lowering._base import (
    FLOATS,
    INTS,
    NUMERIC,
    EmitContext,
    Lowering,
    attr_float,
    attr_int,
    attr_ints,
    attr_str,
    kernel,
)

BYTES = frozenset({ir.DataType.INT8, ir.DataType.UINT8})
QUANTIZED = frozenset({ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16, ir.DataType.INT32})


def _window_attrs(node: ir.Node) -> list:
    return [attr_ints(node, "strides"), attr_ints(node, "pads"), attr_ints(node, "dilations")]


def _conv(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 3), *_window_attrs(node), attr_int(node, "group", 1),
            attr_str(node, "auto_pad", "NOTSET")]
    return cx.call(cv.conv, args)


def _conv_transpose(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 3), *_window_attrs(node), attr_int(node, "group", 1),
            attr_str(node, "auto_pad", "NOTSET"), attr_ints(node, "output_padding"),
            attr_ints(node, "output_shape")]
    return cx.call(cv.conv_transpose, args)


def _pool(kind: str):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        shape = attr_ints(node, "kernel_shape")
        common = [cx.inputs(node)[0], shape, *_window_attrs(node),
                  attr_str(node, "auto_pad", "NOTSET"), attr_int(node, "ceil_mode", 0)]
        if kind == "max" and len(node.outputs) > 1:
            return cx.call(cv.max_pool_with_indices,
                           [*common, attr_int(node, "storage_order", 0)], 2)
        extra = [attr_int(node, "count_include_pad", 0), attr_int(node, "p", 2)]
        return cx.call(cv.pool, [*common, kind, *extra])

    return emit


def _global_pool(kind: str):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        return cx.call(cv.global_pool, [cx.inputs(node)[0], kind, attr_int(node, "p", 2)])

    return emit


def _gemm(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 3), attr_float(node, "alpha", 1.0), attr_float(node, "beta", 1.0),
            attr_int(node, "transA", 0), attr_int(node, "transB", 0)]
    return cx.call(dn.gemm, args)


def _einsum(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(dn.einsum, [attr_str(node, "equation", ""), cx.inputs(node)])


def _batch_norm(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 5), attr_float(node, "epsilon", 1e-5),
            attr_float(node, "momentum", 0.9), attr_int(node, "training_mode", 0)]
    return cx.call(dn.batch_norm, args, 3)[: len(node.outputs)]


def _check_batch_norm(node: ir.Node, opset: int) -> str | None:
    if attr_int(node, "spatial", 1) != 1:
        return "BatchNormalization with spatial=0 (per-activation statistics) is not lowered"
    return None


def _layer_norm(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 3), attr_int(node, "axis", -1), attr_float(node, "epsilon", 1e-5)]
    return cx.call(dn.layer_norm, args, 3)[: len(node.outputs)]


def _dropout(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(dn.dropout, cx.inputs(node)[:1], 2)[: len(node.outputs)]


def _check_dropout(node: ir.Node, opset: int) -> str | None:
    training = node.inputs[2] if len(node.inputs) > 2 else None
    if training is None or training.name == "":
        return None
    const = training.const_value
    if const is not None and not bool(const.numpy().reshape(-1)[0]):
        return None
    return "training-mode Dropout draws random masks, which a deployed model must not"


def _quantize(cx: EmitContext, node: ir.Node) -> list:
    # Without a zero point the output is uint8 unless output_dtype says otherwise; with
    # one, the kernel takes the zero point's type at run time.
    out_type = attr_int(node, "output_dtype", 0) or int(ir.DataType.UINT8)
    args = [*cx.inputs(node, 3), attr_int(node, "axis", 1), attr_int(node, "block_size", 0),
            TORCH_DTYPES[ir.DataType(out_type)]]
    return cx.call(dn.quantize, args)


def _dequantize(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 3), attr_int(node, "axis", 1), attr_int(node, "block_size", 0)]
    return cx.call(dn.dequantize, args)


def _check_causal_conv(node: ir.Node, opset: int) -> str | None:
    activation = attr_str(node, "activation", "none")
    if activation not in ("none", "silu", "swish"):
        return f"CausalConvWithState activation '{activation}' is not none, silu or swish"
    return None


def _norm(fn, *attrs):
    return Lowering(kernel(fn, 3, *attrs), dtypes=FLOATS)


def entries() -> dict[str, tuple[Lowering, ...]]:
    return resize_entries() | {
        "Conv": (Lowering(_conv, dtypes=FLOATS),),
        "ConvTranspose": (Lowering(_conv_transpose, dtypes=FLOATS),),
        "CausalConvWithState": (Lowering(kernel(cv.causal_conv_with_state, 4,
                                                ("activation", "none"), outputs=2),
                                         since=27, dtypes=FLOATS, check=_check_causal_conv),),
        "MaxPool": (Lowering(_pool("max"), since=8, dtypes=FLOATS | BYTES | {ir.DataType.INT64}),),
        "AveragePool": (Lowering(_pool("avg"), since=7, dtypes=FLOATS),),
        "LpPool": (Lowering(_pool("lp"), since=2, dtypes=FLOATS),),
        "GlobalMaxPool": (Lowering(_global_pool("max"), dtypes=FLOATS),),
        "GlobalAveragePool": (Lowering(_global_pool("avg"), dtypes=FLOATS),),
        "GlobalLpPool": (Lowering(_global_pool("lp"), since=2, dtypes=FLOATS),),
        "Gemm": (Lowering(_gemm, since=7, dtypes=NUMERIC),),
        "MatMul": (Lowering(kernel(torch.matmul, 2), dtypes=NUMERIC),),
        "Einsum": (Lowering(_einsum, since=12, dtypes=NUMERIC),),
        "BatchNormalization": (Lowering(_batch_norm, since=7, dtypes=FLOATS,
                                        check=_check_batch_norm),),
        "InstanceNormalization": (_norm(dn.instance_norm, ("epsilon", 1e-5)),),
        "LayerNormalization": (Lowering(_layer_norm, since=17, dtypes=FLOATS),),
        "RMSNormalization": (Lowering(kernel(dn.rms_norm, 2, ("axis", -1), ("epsilon", 1e-5)),
                                      since=23, dtypes=FLOATS),),
        "GroupNormalization": (Lowering(kernel(dn.group_norm, 3, ("num_groups", 1),
                                               ("epsilon", 1e-5)), since=18, dtypes=FLOATS),),
        "LRN": (Lowering(kernel(dn.lrn, 1, ("size", 1), ("alpha", 1e-4), ("beta", 0.75),
                                ("bias", 1.0)), dtypes=FLOATS),),
        "Dropout": (Lowering(_dropout, since=7, dtypes=FLOATS | {ir.DataType.BOOL},
                             check=_check_dropout),),
        "QuantizeLinear": (Lowering(_quantize, since=10, dtypes=FLOATS | QUANTIZED,
                                    ),),
        "DequantizeLinear": (Lowering(_dequantize, since=10, dtypes=FLOATS | QUANTIZED),),
        "DynamicQuantizeLinear": (Lowering(kernel(dn.dynamic_quantize, 1, outputs=3), since=11,
                                           dtypes=FLOATS | {ir.DataType.UINT8}),),
        "MatMulInteger": (Lowering(kernel(dn.matmul_integer, 4), since=10, dtypes=INTS),),
        "QLinearMatMul": (Lowering(kernel(dn.qlinear_matmul, 8), since=10,
                                   dtypes=FLOATS | QUANTIZED),),
    }




def _resize(cx: EmitContext, node: ir.Node) -> list:
    args = [
        *cx.inputs(node, 4),
        attr_ints(node, "axes"),
        attr_str(node, "coordinate_transformation_mode", "half_pixel"),
        attr_str(node, "mode", "nearest"),
        attr_str(node, "nearest_mode", "round_prefer_floor"),
        attr_float(node, "cubic_coeff_a", -0.75),
        attr_int(node, "exclude_outside", 0),
        attr_float(node, "extrapolation_value", 0.0),
        attr_int(node, "antialias", 0),
        attr_str(node, "keep_aspect_ratio_policy", "stretch"),
    ]
    return cx.call(rs.resize, args)


def resize_entries() -> dict[str, tuple[Lowering, ...]]:
    return {"Resize": (Lowering(_resize, since=11, dtypes=FLOATS | BYTES | {ir.DataType.INT64}),)}
