"""Lowering entries: ops ONNX defines as functions of others (attention, rotary, losses)."""

from __future__ import annotations

import onnx_ir as ir

from graphkit.backends.torchscript._dtypes import TORCH_DTYPES
from graphkit.backends.torchscript.kernels import attention as at
from graphkit.backends.torchscript.kernels import loss as ls
from graphkit.backends.torchscript.lowering._base import (
    FLOATS,
    EmitContext,
    Lowering,
    attr,
    attr_float,
    attr_int,
    attr_str,
)

ATTENTION_DTYPES = frozenset({ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.BOOL,
                              ir.DataType.INT64})
LABELS = frozenset({ir.DataType.INT32, ir.DataType.INT64})


def _attention(cx: EmitContext, node: ir.Node) -> list:
    scale = attr(node, "scale")
    precision = attr(node, "softmax_precision")
    args = [
        *cx.inputs(node, 7),
        None if scale is None else float(scale),
        attr_int(node, "is_causal", 0),
        attr_int(node, "q_num_heads", 0),
        attr_int(node, "kv_num_heads", 0),
        attr_float(node, "softcap", 0.0),
        attr_int(node, "qk_matmul_output_mode", 0),
        attr_int(node, "left_window_size", -1),
        attr_int(node, "right_window_size", -1),
        None if precision is None else TORCH_DTYPES[ir.DataType(precision)],
    ]
    return cx.call(at.attention, args, 4)[: len(node.outputs)]


def _rotary(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 4), attr_int(node, "interleaved", 0), attr_int(node, "num_heads", 0),
            attr_int(node, "rotary_embedding_dim", 0)]
    return cx.call(at.rotary_embedding, args)


def _loss(fn, outputs: int):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        ignore = attr(node, "ignore_index")
        args = [*cx.inputs(node, 3), attr_str(node, "reduction", "mean"),
                0 if ignore is None else int(ignore), ignore is not None]
        return cx.call(fn, args, outputs)[: len(node.outputs)]

    return emit


def entries() -> dict[str, tuple[Lowering, ...]]:
    return {
        # float16 is left out: torch's half matmul rounds differently from ONNX's
        # reference by more than 1e-4 on the conformance data.
        "Attention": (Lowering(_attention, since=23, dtypes=ATTENTION_DTYPES),),
        "RotaryEmbedding": (Lowering(_rotary, since=23, dtypes=FLOATS | {ir.DataType.INT64}),),
        "NegativeLogLikelihoodLoss": (Lowering(_loss(ls.nll_loss, 1), since=12,
                                               dtypes=FLOATS | LABELS),),
        "SoftmaxCrossEntropyLoss": (Lowering(_loss(ls.softmax_cross_entropy, 2), since=12,
                                             dtypes=FLOATS | LABELS),),
    }
