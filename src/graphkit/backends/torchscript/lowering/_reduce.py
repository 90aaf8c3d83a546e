"""Lowering entries: reductions, arg-reductions, softmax family, cumulative ops."""

from __future__ import annotations

import onnx_ir as ir

from graphkit.backends.torchscript.kernels import reduce as rk
from graphkit.backends.torchscript.lowering._base import (
    FLOATS,
    NUMERIC,
    EmitContext,
    Lowering,
    attr_int,
    attr_ints,
)

# op -> (kernel kind, opset from which axes is an input instead of an attribute)
REDUCTIONS = {
    "ReduceSum": ("sum", 13), "ReduceMean": ("mean", 18), "ReduceMax": ("max", 18),
    "ReduceMin": ("min", 18), "ReduceProd": ("prod", 18), "ReduceL1": ("l1", 18),
    "ReduceL2": ("l2", 18), "ReduceSumSquare": ("sum_square", 18),
    "ReduceLogSum": ("log_sum", 18), "ReduceLogSumExp": ("log_sum_exp", 18),
}


def _reduction(kind: str, axes_input_since: int):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        keepdims = attr_int(node, "keepdims", 1)
        if cx.opset < axes_input_since:
            return cx.call(rk.reduce_attrs, [cx.inputs(node)[0], attr_ints(node, "axes"),
                                             keepdims, kind])
        noop = attr_int(node, "noop_with_empty_axes", 0)
        return cx.call(rk.reduce, [*cx.inputs(node, 2), keepdims, noop, kind])

    return emit


def _arg(largest: bool):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        args = [cx.inputs(node)[0], attr_int(node, "axis", 0), attr_int(node, "keepdims", 1),
                attr_int(node, "select_last_index", 0), largest]
        return cx.call(rk.arg_extreme, args)

    return emit


def _softmax(kind: str):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        legacy = cx.opset < 13
        axis = attr_int(node, "axis", 1 if legacy else -1)
        return cx.call(rk.softmax, [cx.inputs(node)[0], axis, legacy, kind])

    return emit


def _cumulative(product: bool):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        args = [*cx.inputs(node, 2), attr_int(node, "exclusive", 0), attr_int(node, "reverse", 0),
                product]
        return cx.call(rk.cumulative, args)

    return emit


def _lp_normalize(cx: EmitContext, node: ir.Node) -> list:
    args = [cx.inputs(node)[0], attr_int(node, "axis", -1), attr_int(node, "p", 2)]
    return cx.call(rk.lp_normalize, args)


def _check_lp(node: ir.Node, opset: int) -> str | None:
    p = attr_int(node, "p", 2)
    return None if p in (1, 2) else f"LpNormalization with p={p} (ONNX allows only 1 and 2)"


def entries() -> dict[str, tuple[Lowering, ...]]:
    table: dict[str, tuple[Lowering, ...]] = {
        op: (Lowering(_reduction(kind, since), dtypes=NUMERIC | {ir.DataType.BOOL}),)
        for op, (kind, since) in REDUCTIONS.items()
    }
    table.update({
        "ArgMax": (Lowering(_arg(True), dtypes=NUMERIC),),
        "ArgMin": (Lowering(_arg(False), dtypes=NUMERIC),),
        "Softmax": (Lowering(_softmax("softmax"), dtypes=FLOATS),),
        "LogSoftmax": (Lowering(_softmax("log_softmax"), dtypes=FLOATS),),
        "Hardmax": (Lowering(_softmax("hardmax"), dtypes=FLOATS),),
        "CumSum": (Lowering(_cumulative(False), since=11, dtypes=NUMERIC),),
        "CumProd": (Lowering(_cumulative(True), since=11, dtypes=NUMERIC),),
        "LpNormalization": (Lowering(_lp_normalize, dtypes=FLOATS, check=_check_lp),),
    })
    return table
