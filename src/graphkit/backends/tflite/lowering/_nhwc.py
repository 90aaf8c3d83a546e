"""The graphkit.nhwc ops that convert-layout writes (passes/convert_layout.py): an NCHW op
whose image input and output are NHWC. Each lowers through its ONNX op's own entry, which
asks for its image as NHWC and writes NHWC: seen through `NhwcView`, the NHWC value is
the NCHW value the entry expects, held as NHWC, so no TRANSPOSE is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import onnx_ir as ir

from graphkit.backends.tflite.lowering import _conv, _conv_transpose, _image, _pool
from graphkit.backends.tflite.lowering._base import NCHW_OF_NHWC, EmitContext, Lowering
from graphkit.passes.convert_layout import IMAGE_OPS, NHWC_DOMAIN
from graphkit.targets.base import ValueFacts

IMAGE_FAMILIES = (_conv, _conv_transpose, _image, _pool)


@dataclass
class NhwcFacts:
    """Value facts with the node's NHWC image values' shapes given in NCHW order (what the
    ONNX op's check and emit read)."""

    facts: ValueFacts
    images: set[int]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.facts, name)

    def shape(self, value):
        shape = self.facts.shape(value)
        if shape is None or id(value) not in self.images or len(shape) != 4:
            return shape
        return tuple(shape[axis] for axis in NCHW_OF_NHWC)


@dataclass
class NhwcView:
    """The emission context, with the node's NHWC image values seen as NCHW ones."""

    ctx: EmitContext
    images: set[int]  # id() of the NHWC values

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ctx, name)

    @property
    def values(self) -> NhwcFacts:
        return NhwcFacts(self.ctx.values, self.images)

    def _nchw(self, shape):
        return None if shape is None else [shape[axis] for axis in NCHW_OF_NHWC]

    def _as_held(self, perm):
        """An NCHW layout `perm` as the layout of the NHWC value (NHWC: as it is)."""
        held = tuple(NCHW_OF_NHWC[p] for p in (perm or range(4)))
        return None if held == tuple(range(4)) else held

    def image_shape(self, value: ir.Value) -> tuple[int, ...]:
        if id(value) not in self.images:
            return self.ctx.image_shape(value)
        return tuple(self._nchw(list(self.ctx.image_shape(value))))

    def shape(self, value: ir.Value) -> tuple[int, ...]:
        if id(value) not in self.images:
            return self.ctx.shape(value)
        return tuple(self._nchw(list(self.ctx.shape(value))))

    def shape_or_none(self, value: ir.Value):
        found = self.ctx.shape_or_none(value)
        return self._nchw(found) if id(value) in self.images else found

    def _stored_shape(self, value: ir.Value, perm):
        if id(value) not in self.images:
            return self.ctx._stored_shape(value, perm)
        return self.ctx._stored_shape(value, self._as_held(perm))

    def perm_of(self, value: ir.Value):
        if id(value) not in self.images:
            return self.ctx.perm_of(value)
        held = self.ctx.perm_of(value) or tuple(range(4))
        perm = tuple(NCHW_OF_NHWC.index(axis) for axis in held)
        return None if perm == tuple(range(4)) else perm

    def input(self, value: ir.Value, perm=None) -> int:
        if id(value) not in self.images:
            return self.ctx.input(value, perm)
        return self.ctx.input(value, self._as_held(perm))

    def output(self, value: ir.Value, perm=None) -> int:
        if id(value) not in self.images:
            return self.ctx.output(value, perm)
        return self.ctx.output(value, self._as_held(perm))


def _images(node: ir.Node) -> set[int]:
    return {id(node.inputs[0]), id(node.outputs[0])}


def _through_view(lowering: Lowering) -> Lowering:
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        lowering.emit(NhwcView(ctx, _images(node)), node)  # type: ignore[arg-type]

    def check(node: ir.Node, values: ValueFacts) -> str | None:
        if lowering.check is None:
            return None
        return lowering.check(node, NhwcFacts(values, _images(node)))  # type: ignore[arg-type]

    return Lowering(lowering.builtins, emit, lowering.dtypes, lowering.dtype_inputs, check,
                    lowering.since)


def entries() -> dict[str, list[Lowering]]:
    """graphkit.nhwc op -> its entries (the ONNX op's, seen through NhwcView)."""
    table: dict[str, list[Lowering]] = {}
    for family in IMAGE_FAMILIES:
        for op, found in family.entries().items():
            if op in IMAGE_OPS:
                table[op] = [_through_view(entry) for entry in found]
    return table


__all__ = ["NHWC_DOMAIN", "entries"]
