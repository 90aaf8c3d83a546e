"""What one lowering-table entry is, and the context an entry emits torch.fx nodes into.

An entry says which opsets of an ONNX op it handles, which attribute forms and dtypes,
and holds the function that writes the op as torch code. `check` functions return the
one sentence the user sees when an entry declines a node; emission never declines on
its own, so analysis and emission cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import onnx_ir as ir
import torch

# ONNX element types that torch has no tensor dtype for (or that graphkit does not lower).
UNLOWERED_DTYPES = frozenset(
    {
        ir.DataType.STRING,
        ir.DataType.COMPLEX64,
        ir.DataType.COMPLEX128,
        ir.DataType.FLOAT8E4M3FNUZ,
        ir.DataType.FLOAT8E5M2FNUZ,
        ir.DataType.FLOAT8E4M3FN,
        ir.DataType.FLOAT8E5M2,
        ir.DataType.FLOAT8E8M0,
        ir.DataType.UINT4,
        ir.DataType.INT4,
        ir.DataType.UINT2,
        ir.DataType.INT2,
        ir.DataType.FLOAT4E2M1,
        ir.DataType.FLOAT6E2M3,
        ir.DataType.FLOAT6E3M2,
        ir.DataType.BFLOAT16,
    }
)
# torch has these unsigned types only as storage: most kernels are missing for them.
SHELL_DTYPES = frozenset({ir.DataType.UINT16, ir.DataType.UINT32, ir.DataType.UINT64})

FLOATS = frozenset({ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.FLOAT16})
INTS = frozenset(
    {ir.DataType.INT8, ir.DataType.INT16, ir.DataType.INT32, ir.DataType.INT64, ir.DataType.UINT8}
)
NUMERIC = FLOATS | INTS
ALL_TORCH = NUMERIC | {ir.DataType.BOOL}


class EmitContext(Protocol):
    """What the fx builder offers to lowering functions (see _fx.FxBuilder)."""

    opset: int

    def inputs(self, node: ir.Node, count: int | None = None) -> list[Any]:
        """fx nodes of the node's inputs, None for absent optional inputs, padded to count."""
        ...

    def call(self, fn: Callable[..., Any], args: Sequence[Any], outputs: int = 1) -> list[Any]:
        """Add one call; with outputs > 1 the call returns a tuple/list that is split."""
        ...

    def const(self, array: np.ndarray, hint: str) -> Any:
        """A constant tensor as a buffer of the module (legible name from hint)."""
        ...

    def subgraph(self, graph: ir.Graph, hint: str) -> tuple[str, list[Any]]:
        """Build a body as a submodule; returns its attribute name and captured outer values."""
        ...

    def module(self, name_hint: str, module: Any, args: Sequence[Any], outputs: int) -> list[Any]:
        ...


Emit = Callable[[EmitContext, ir.Node], list[Any]]
# node, opset -> why the entry cannot lower the node (None: it can)
LoweringCheck = Callable[[ir.Node, int], "str | None"]


@dataclass(frozen=True)
class Lowering:
    emit: Emit
    since: int = 1  # lowest ai.onnx opset whose form of the op this entry handles
    dtypes: frozenset[ir.DataType] = ALL_TORCH  # allowed element types of inputs and outputs
    check: LoweringCheck | None = None  # attribute forms and other constraints


# --- attribute access -------------------------------------------------------------------


def attr(node: ir.Node, name: str, default: Any = None) -> Any:
    value = node.attributes.get(name)
    if value is None:
        return default
    if value.type in (ir.AttributeType.INTS, ir.AttributeType.FLOATS, ir.AttributeType.STRINGS):
        return list(value.value)
    return value.value


def attr_int(node: ir.Node, name: str, default: int) -> int:
    return int(attr(node, name, default))


def attr_float(node: ir.Node, name: str, default: float) -> float:
    return float(attr(node, name, default))


def attr_str(node: ir.Node, name: str, default: str) -> str:
    value = attr(node, name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def attr_ints(node: ir.Node, name: str, default: list[int] | None = None) -> list[int]:
    value = attr(node, name, None)
    return [int(v) for v in value] if value is not None else list(default or [])


def attr_floats(node: ir.Node, name: str, default: list[float] | None = None) -> list[float]:
    value = attr(node, name, None)
    return [float(v) for v in value] if value is not None else list(default or [])


# --- uint16/uint32 through int64 ----------------------------------------------------------

WIDENED = frozenset({ir.DataType.UINT16, ir.DataType.UINT32})


class _WideningContext:
    """Hands a lowering its inputs cast to int64 (torch has few uint16/uint32 kernels)."""

    def __init__(self, cx: EmitContext) -> None:
        self._cx = cx
        self.opset = cx.opset

    def inputs(self, node: ir.Node, count: int | None = None) -> list[Any]:
        from graphkit.backends.torchscript.kernels.creation import cast

        args = self._cx.inputs(node, count)
        types = [v.dtype if v is not None else None for v in node.inputs]
        types += [None] * (len(args) - len(types))
        return [self._cx.call(cast, [a, torch.int64])[0] if t in WIDENED else a
                for a, t in zip(args, types)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cx, name)


def widen_unsigned(emit: Emit) -> Emit:
    """Run uint16/uint32 nodes in int64 and cast results back (exact for these widths)."""

    def wrapped(cx: EmitContext, node: ir.Node) -> list[Any]:
        if not any(v is not None and v.dtype in WIDENED for v in node.inputs):
            return emit(cx, node)
        from graphkit.backends.torchscript._dtypes import TORCH_DTYPES
        from graphkit.backends.torchscript.kernels.creation import cast

        results = emit(_WideningContext(cx), node)  # type: ignore[arg-type]
        return [
            cx.call(cast, [r, TORCH_DTYPES[v.dtype]])[0] if v.dtype in WIDENED else r
            for r, v in zip(results, node.outputs)
        ]

    return wrapped


# --- common emit forms ------------------------------------------------------------------


def kernel(fn: Callable[..., Any], n_in: int, *attrs: tuple[str, Any], outputs: int = 1) -> Emit:
    """Emit fn(inputs padded with None to n_in..., attribute values...)."""

    def emit(cx: EmitContext, node: ir.Node) -> list[Any]:
        args = cx.inputs(node, n_in) + [_attr_arg(node, name, default) for name, default in attrs]
        count = outputs if outputs > 0 else len(node.outputs)
        return cx.call(fn, args, count)

    return emit


def _attr_arg(node: ir.Node, name: str, default: Any) -> Any:
    if isinstance(default, float):
        return attr_float(node, name, default)
    if isinstance(default, bool):
        return attr_int(node, name, int(default))
    if isinstance(default, int):
        return attr_int(node, name, default)
    if isinstance(default, str):
        return attr_str(node, name, default)
    if isinstance(default, list):
        return attr_ints(node, name, default)
    return attr(node, name, default)


def variadic(fn: Callable[..., Any]) -> Emit:
    """Emit fn([inputs...]) for ops with any number of inputs (Sum, Max, Concat...)."""

    def emit(cx: EmitContext, node: ir.Node) -> list[Any]:
        return cx.call(fn, [cx.inputs(node)])

    return emit


def value_dtypes(node: ir.Node) -> list[ir.DataType]:
    """Known element types of the node's inputs and outputs (unknown ones left out)."""
    values = [v for v in (*node.inputs, *node.outputs) if v is not None]
    return [v.dtype for v in values if v.dtype is not None]


def any_attr(node: ir.Node, *names: str) -> bool:
    return any(name in node.attributes for name in names)


def static_rank(value: ir.Value | None) -> int | None:
    """The value's rank when the model states it (a declared shape or a constant), else None."""
    if value is None:
        return None
    if value.const_value is not None:
        return len(value.const_value.shape)
    return len(value.shape) if value.shape is not None else None


def constant(value: ir.Value | None) -> ir.TensorProtocol | None:
    """The value's tensor when it is fixed at emit time (an initializer or a Constant
    node's output), else None."""
    if value is None or value.name == "":
        return None
    return ir.convenience.get_const_tensor(value)
