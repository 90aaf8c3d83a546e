"""Lowering entries: reshaping, slicing, joining and padding tensors."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch

from graphkit.backends.torchscript.kernels import shape as sk
from graphkit.backends.torchscript.lowering._base import (
    ALL_TORCH,
    EmitContext,
    Lowering,
    attr,
    attr_float,
    attr_int,
    attr_ints,
    attr_str,
    constant,
    kernel,
    static_rank,
)


def _identity(cx: EmitContext, node: ir.Node) -> list:
    return cx.inputs(node)[:1]


def _ints_input(cx: EmitContext, node: ir.Node, name: str, index: int):
    """An ints attribute as a constant tensor, else the input that replaced it."""
    values = attr(node, name)
    if values is not None:
        return cx.const(np.asarray(values, dtype=np.int64), f"{node.name}_{name}")
    inputs = cx.inputs(node, index + 1)
    return inputs[index]


def constant_ints(node: ir.Node, name: str, index: int) -> list[int] | None:
    """An ints attribute, or the constant input that replaced it (opset 13 on): the values
    the emitter can write into the call itself; None when they are only known at run time."""
    values = attr(node, name)
    if values is not None:
        return [int(v) for v in values]
    tensor = constant(node.inputs[index]) if len(node.inputs) > index else None
    if tensor is None:
        return None
    return [int(v) for v in tensor.numpy().reshape(-1)]


def _known_axes(node: ir.Node, rank: int | None) -> list[int] | None:
    """Constant axes made non-negative against `rank` (the rank they count in), sorted."""
    axes = constant_ints(node, "axes", 1)
    if axes is None or (rank is None and any(a < 0 for a in axes)):
        return None
    return sorted(a + rank if a < 0 else a for a in axes) if rank is not None else sorted(axes)


def _squeeze(cx: EmitContext, node: ir.Node) -> list:
    axes = _known_axes(node, static_rank(node.inputs[0]))
    if axes:  # torch.squeeze(x, dims), which the interpreter runs as one call
        return cx.call(torch.squeeze, [cx.inputs(node)[0], axes])
    return cx.call(sk.squeeze, [cx.inputs(node)[0], _ints_input(cx, node, "axes", 1)])


def _unsqueeze(cx: EmitContext, node: ir.Node) -> list:
    rank = static_rank(node.inputs[0])
    count = len(constant_ints(node, "axes", 1) or [])
    axes = _known_axes(node, None if rank is None else rank + count)
    if axes:  # ascending, so that each axis counts in the rank the earlier ones made
        out = cx.inputs(node)[0]
        for axis in axes:
            out = cx.call(torch.unsqueeze, [out, axis])[0]
        return [out]
    return cx.call(sk.unsqueeze, [cx.inputs(node)[0], _ints_input(cx, node, "axes", 1)])


def _reshape(cx: EmitContext, node: ir.Node) -> list:
    dims = constant_ints(node, "shape", 1)
    if dims is not None and 0 not in dims:  # no 0 to copy (or keep): torch.reshape as is
        return cx.call(torch.reshape, [cx.inputs(node)[0], dims])
    return cx.call(sk.reshape, [*cx.inputs(node, 2), attr_int(node, "allowzero", 0)])


def _concat(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(sk.concat, [cx.inputs(node), attr_int(node, "axis", 0)])


def _split(cx: EmitContext, node: ir.Node) -> list:
    sizes = _ints_input(cx, node, "split", 1)
    args = [cx.inputs(node)[0], sizes, attr_int(node, "axis", 0), len(node.outputs)]
    return cx.call(sk.split, args, len(node.outputs))


def _slice(cx: EmitContext, node: ir.Node) -> list:
    if cx.opset >= 10:
        return cx.call(sk.slice_, cx.inputs(node, 5))
    consts = [
        cx.const(np.asarray(attr_ints(node, key), dtype=np.int64), f"{node.name}_{key}")
        if key in node.attributes else None
        for key in ("starts", "ends", "axes")
    ]
    return cx.call(sk.slice_, [cx.inputs(node)[0], *consts, None])


def _shape(cx: EmitContext, node: ir.Node) -> list:
    end = attr(node, "end")
    args = [cx.inputs(node)[0], attr_int(node, "start", 0), None if end is None else int(end)]
    return cx.call(sk.shape, args)


def _pad(cx: EmitContext, node: ir.Node) -> list:
    mode = attr_str(node, "mode", "constant")
    if cx.opset < 11:
        pads = attr_ints(node, "pads")
        value = attr_float(node, "value", 0.0)
        return cx.call(sk.pad_attrs, [cx.inputs(node)[0], pads, value, mode])
    return cx.call(sk.pad, [*cx.inputs(node, 4), mode])


def _check_pad(node: ir.Node, opset: int) -> str | None:
    mode = attr_str(node, "mode", "constant")
    if mode not in {"constant", "reflect", "edge", "wrap"}:
        return f"Pad mode '{mode}' is not an ONNX pad mode"
    return None


def _center_crop_pad(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(sk.center_crop_pad, [*cx.inputs(node, 2), attr_ints(node, "axes")])


def entries() -> dict[str, tuple[Lowering, ...]]:
    return {
        "Identity": (Lowering(_identity, dtypes=ALL_TORCH),),
        "Reshape": (Lowering(_reshape, since=5, dtypes=ALL_TORCH),),
        "Flatten": (Lowering(kernel(sk.flatten, 1, ("axis", 1)), dtypes=ALL_TORCH),),
        "Transpose": (Lowering(kernel(sk.transpose, 1, ("perm", [])), dtypes=ALL_TORCH),),
        "Squeeze": (Lowering(_squeeze, dtypes=ALL_TORCH),),
        "Unsqueeze": (Lowering(_unsqueeze, dtypes=ALL_TORCH),),
        "Concat": (Lowering(_concat, dtypes=ALL_TORCH),),
        "Split": (Lowering(_split, dtypes=ALL_TORCH),),
        "Slice": (Lowering(_slice, dtypes=ALL_TORCH),),
        "Expand": (Lowering(kernel(sk.expand, 2), since=8, dtypes=ALL_TORCH),),
        "Tile": (Lowering(kernel(sk.tile, 2), since=6, dtypes=ALL_TORCH),),
        "Shape": (Lowering(_shape, dtypes=ALL_TORCH),),
        "Size": (Lowering(kernel(sk.size, 1), dtypes=ALL_TORCH),),
        "Pad": (Lowering(_pad, since=2, dtypes=ALL_TORCH, check=_check_pad),),
        "DepthToSpace": (Lowering(kernel(sk.depth_to_space, 1, ("blocksize", 1), ("mode", "DCR")),
                                  dtypes=ALL_TORCH),),
        "SpaceToDepth": (Lowering(kernel(sk.space_to_depth, 1, ("blocksize", 1), ("mode", "DCR")),
                                  dtypes=ALL_TORCH),),
        "CenterCropPad": (Lowering(_center_crop_pad, since=18, dtypes=ALL_TORCH),),
    }
