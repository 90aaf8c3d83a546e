"""Lowering entries: GridSample, AffineGrid, Col2Im (kernels/sampling.py)."""

from __future__ import annotations

import onnx_ir as ir

from graphkit.backends.torchscript.kernels import sampling as sm
from graphkit.backends.torchscript.lowering._base import (
    FLOATS,
    EmitContext,
    Lowering,
    attr_int,
    attr_ints,
    attr_str,
    kernel,
)

SAMPLED = frozenset({ir.DataType.FLOAT, ir.DataType.DOUBLE})
# ONNX mode name -> torch's; opset 20 renamed bilinear/bicubic to linear/cubic.
TORCH_MODES = {"linear": "bilinear", "bilinear": "bilinear", "nearest": "nearest",
               "cubic": "bicubic", "bicubic": "bicubic"}
MODES_BEFORE_20 = ("bilinear", "nearest", "bicubic")
MODES_FROM_20 = ("linear", "nearest", "cubic")
PADDING_MODES = ("zeros", "border", "reflection")


def _rank(value: ir.Value | None) -> int | None:
    return None if value is None or value.shape is None else len(value.shape)


def _check_grid_sample(node: ir.Node, opset: int) -> str | None:
    mode = attr_str(node, "mode", "linear" if opset >= 20 else "bilinear")
    allowed = MODES_FROM_20 if opset >= 20 else MODES_BEFORE_20
    if mode not in allowed:
        return f"GridSample mode '{mode}' is not one of {allowed} at opset {opset}"
    padding = attr_str(node, "padding_mode", "zeros")
    if padding not in PADDING_MODES:
        return f"GridSample padding_mode '{padding}' is not one of {PADDING_MODES}"
    rank = _rank(node.inputs[0]) or _rank(node.inputs[1])
    if rank is None:
        return "GridSample with input of unknown rank is not lowered (torch needs 4-D or 5-D)"
    if rank not in (4, 5):
        return f"GridSample on {rank - 2} spatial dims is not lowered (torch samples 2-D and 3-D)"
    if rank == 5 and mode in ("cubic", "bicubic"):
        return "GridSample cubic on volumetric (5-D) input is not lowered (torch has no tricubic)"
    return None


def _grid_sample(cx: EmitContext, node: ir.Node) -> list:
    default = "linear" if cx.opset >= 20 else "bilinear"
    args = [*cx.inputs(node, 2), TORCH_MODES[attr_str(node, "mode", default)],
            attr_str(node, "padding_mode", "zeros"), attr_int(node, "align_corners", 0)]
    return cx.call(sm.grid_sample, args)


def _check_col2im(node: ir.Node, opset: int) -> str | None:
    data = node.inputs[0]
    if data is not None and data.dtype is not None and data.dtype not in FLOATS:
        return f"Col2Im is not lowered for {data.dtype.name.lower()} data (torch folds floats)"
    image_shape = node.inputs[1]
    dims = None if image_shape is None or image_shape.shape is None else image_shape.shape[0]
    if dims is None and _rank(node.outputs[0]) is not None:
        dims = _rank(node.outputs[0]) - 2  # type: ignore[operator]
    if dims is None or not isinstance(dims, int):
        return "Col2Im with an unknown number of spatial dims is not lowered (torch folds 2-D)"
    if dims != 2:
        return f"Col2Im on {dims} spatial dims is not lowered (torch's fold is 2-D only)"
    return None


def _col2im(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 3), attr_ints(node, "strides"), attr_ints(node, "pads"),
            attr_ints(node, "dilations")]
    return cx.call(sm.col2im, args)


def entries() -> dict[str, tuple[Lowering, ...]]:
    grid_sample = Lowering(_grid_sample, since=16, dtypes=SAMPLED, check=_check_grid_sample)
    return {
        "GridSample": (grid_sample,),
        "AffineGrid": (Lowering(kernel(sm.affine_grid, 2, ("align_corners", 0)), since=20,
                                dtypes=FLOATS | {ir.DataType.INT64}),),
        # int64 is the image/block shape inputs; the data must be float (see the check).
        "Col2Im": (Lowering(_col2im, since=18, dtypes=FLOATS | {ir.DataType.INT64},
                            check=_check_col2im),),
    }
