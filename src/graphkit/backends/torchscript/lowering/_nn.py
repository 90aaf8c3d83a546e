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
    static_rank,
)

BYTES = frozenset({ir.DataType.INT8, ir.DataType.UINT8})
QUANTIZED = frozenset({ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT16, ir.DataType.INT32})


def _window_attrs(node: ir.Node) -> list:
    return [attr_ints(node, "strides"), attr_ints(node, "pads"), attr_ints(node, "dilations")]


# torch's own kernels by spatial rank: where a node's attributes fit their narrower
# signatures exactly, the emitter calls them directly, which frozen TorchScript can
# optimize (conv+bn folding, oneDNN) and which skip the general kernels' shape logic.
NATIVE_CONV = {1: torch.conv1d, 2: torch.conv2d, 3: torch.conv3d}
NATIVE_MAX_POOL = {1: torch.max_pool1d, 2: torch.max_pool2d, 3: torch.max_pool3d}
NATIVE_AVG_POOL = {1: torch.avg_pool1d, 2: torch._C._nn.avg_pool2d, 3: torch._C._nn.avg_pool3d}


def _symmetric_pads(node: ir.Node, n: int) -> list[int] | None:
    """Per-dim pads when they are the same at both ends and auto_pad leaves them as
    written; else None (torch's native kernels pad symmetrically only)."""
    auto_pad = attr_str(node, "auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return [0] * n
    if auto_pad != "NOTSET":
        return None
    pads = attr_ints(node, "pads") or [0] * (2 * n)
    if len(pads) != 2 * n or pads[:n] != pads[n:]:
        return None
    return pads[:n]


def _native_conv(cx: EmitContext, node: ir.Node) -> list | None:
    n = (static_rank(node.inputs[1]) or 0) - 2
    if n not in NATIVE_CONV or attr_str(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    x, w, b = cx.inputs(node, 3)
    pads = _symmetric_pads(node, n)
    if pads is None:  # uneven pads (tf2onnx's SAME with stride 2): zeros first, as written
        uneven = attr_ints(node, "pads")
        if len(uneven) != 2 * n or min(uneven) < 0:
            return None
        x = cx.call(torch.constant_pad_nd, [x, _torch_pad_order(uneven), 0.0])[0]
        pads = [0] * n
    if n == 2:  # measured by tools/bench_emit.py (README)
        x = cx.call(cv.onednn_layout, [x])[0]
    args = [x, w, b, attr_ints(node, "strides") or [1] * n, pads,
            attr_ints(node, "dilations") or [1] * n, attr_int(node, "group", 1)]
    return cx.call(NATIVE_CONV[n], args)


def _torch_pad_order(pads: list[int]) -> list[int]:
    """ONNX [x1_begin, x2_begin, ..., x1_end, x2_end, ...] as torch's pad list, which
    starts at the last dim: [xn_begin, xn_end, ..., x1_begin, x1_end]."""
    n = len(pads) // 2
    return [p for i in reversed(range(n)) for p in (pads[i], pads[n + i])]


def _conv(cx: EmitContext, node: ir.Node) -> list:
    native = _native_conv(cx, node)
    if native is not None:
        return native
    args = [*cx.inputs(node, 3), *_window_attrs(node), attr_int(node, "group", 1),
            attr_str(node, "auto_pad", "NOTSET")]
    return cx.call(cv.conv, args)


NATIVE_CONV_TRANSPOSE = {1: torch.conv_transpose1d, 2: torch.conv_transpose2d,
                         3: torch.conv_transpose3d}


def _native_conv_transpose(cx: EmitContext, node: ir.Node) -> list | None:
    """torch.conv_transposeNd where no output_shape asks for its own padding arithmetic."""
    n = (static_rank(node.inputs[1]) or 0) - 2
    pads = _symmetric_pads(node, n) if n in NATIVE_CONV_TRANSPOSE else None
    if pads is None or attr_ints(node, "output_shape"):
        return None
    args = [*cx.inputs(node, 3), attr_ints(node, "strides") or [1] * n, pads,
            attr_ints(node, "output_padding") or [0] * n, attr_int(node, "group", 1),
            attr_ints(node, "dilations") or [1] * n]
    return cx.call(NATIVE_CONV_TRANSPOSE[n], args)


def _conv_transpose(cx: EmitContext, node: ir.Node) -> list:
    native = _native_conv_transpose(cx, node)
    if native is not None:
        return native
    args = [*cx.inputs(node, 3), *_window_attrs(node), attr_int(node, "group", 1),
            attr_str(node, "auto_pad", "NOTSET"), attr_ints(node, "output_padding"),
            attr_ints(node, "output_shape")]
    return cx.call(cv.conv_transpose, args)


def _native_pool(cx: EmitContext, node: ir.Node, kind: str) -> list | None:
    """torch's max/avg pool where ONNX's form is one it has: symmetric pads of at most
    half the window, one output; average pools also undilated and without ceil mode."""
    kernel_shape = attr_ints(node, "kernel_shape")
    n = len(kernel_shape)
    pads = _symmetric_pads(node, n) if n in NATIVE_CONV and len(node.outputs) == 1 else None
    dilations = attr_ints(node, "dilations") or [1] * n
    if pads is None or len(dilations) != n or node.inputs[0].dtype not in FLOATS:
        return None
    spans = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilations)]
    if any(2 * p > span for p, span in zip(pads, spans)):
        return None
    strides = attr_ints(node, "strides") or [1] * n  # torch's default stride is the window
    ceil_mode = attr_int(node, "ceil_mode", 0)
    x = cx.inputs(node)[0]
    if kind == "max":
        args = [x, kernel_shape, strides, pads, dilations, bool(ceil_mode)]
        return cx.call(NATIVE_MAX_POOL[n], args)
    if kind != "avg" or ceil_mode != 0 or any(d != 1 for d in dilations):
        return None
    count_include_pad = bool(attr_int(node, "count_include_pad", 0))
    return cx.call(NATIVE_AVG_POOL[n], [x, kernel_shape, strides, pads, False,
                                        count_include_pad])


def _pool(kind: str):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        native = _native_pool(cx, node, kind)
        if native is not None:
            return native
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


def _native_linear(cx: EmitContext, node: ir.Node) -> list | None:
    """Gemm(a, b, c) with transB=1, alpha=beta=1, a 1-D or absent c: F.linear(a, b, c),
    which frozen TorchScript can hand to oneDNN."""
    a, b, c = (*node.inputs, None)[:3]
    plain = (attr_float(node, "alpha", 1.0), attr_float(node, "beta", 1.0),
             attr_int(node, "transA", 0), attr_int(node, "transB", 0)) == (1.0, 1.0, 0, 1)
    floats = all(v is not None and v.dtype in FLOATS for v in (a, b))
    if not plain or not floats or static_rank(a) != 2 or static_rank(b) != 2:
        return None
    if c is not None and c.name != "" and (static_rank(c) != 1 or c.dtype != a.dtype):
        return None
    return cx.call(torch.nn.functional.linear, cx.inputs(node, 3))


def _gemm(cx: EmitContext, node: ir.Node) -> list:
    native = _native_linear(cx, node)
    if native is not None:
        return native
    args = [*cx.inputs(node, 3), attr_float(node, "alpha", 1.0), attr_float(node, "beta", 1.0),
            attr_int(node, "transA", 0), attr_int(node, "transB", 0)]
    return cx.call(dn.gemm, args)


def _einsum(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(dn.einsum, [attr_str(node, "equation", ""), cx.inputs(node)])


def _batch_norm(cx: EmitContext, node: ir.Node) -> list:
    same_type = len({v.dtype for v in node.inputs if v is not None}) == 1
    if attr_int(node, "training_mode", 0) == 0 and len(node.outputs) == 1 and same_type:
        # torch.batch_norm in eval form is the same formula; freezing folds it into a
        # preceding torch.conv2d.
        args = [*cx.inputs(node, 5), False, 0.0, attr_float(node, "epsilon", 1e-5), False]
        return cx.call(torch.batch_norm, args)
    args = [*cx.inputs(node, 5), attr_float(node, "epsilon", 1e-5),
            attr_float(node, "momentum", 0.9), attr_int(node, "training_mode", 0)]
    return cx.call(dn.batch_norm, args, 3)[: len(node.outputs)]


def _check_batch_norm(node: ir.Node, opset: int) -> str | None:
    if attr_int(node, "spatial", 1) != 1:
        return "BatchNormalization with spatial=0 (per-activation statistics) is not lowered"
    return None


def _layer_norm(cx: EmitContext, node: ir.Node) -> list:
    if len(node.outputs) == 1 and node.inputs[0].dtype in (ir.DataType.FLOAT, ir.DataType.DOUBLE):
        args = [*cx.inputs(node, 3), attr_int(node, "axis", -1), attr_float(node, "epsilon", 1e-5)]
        return cx.call(dn.layer_norm_native, args)
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
