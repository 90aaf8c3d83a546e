"""Det of small matrices (n <= 4) by the Leibniz formula: the sum over the n! permutations
p of sign(p) * x[0, p(0)] * ... * x[n-1, p(n-1)].

    RESHAPE x [..., n, n] -> [B, n*n]; GATHER the n entries of every term -> [B, n!, n]
    REDUCE_PROD over the entries, MUL by the signs, SUM over the terms, RESHAPE to [...]

Each term is a product of n floats and the sum adds n! of them (at most 24): float32
rounding, as an LU factorisation's. Larger matrices need pivoting, which is refused.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    entry,
    static_shape,
)

MAX_ORDER = 4


def check_det(node: ir.Node, values) -> str | None:
    shape = static_shape(values, node.inputs[0])
    if shape is None or len(shape) < 2:
        return "Det needs a static input shape"
    if shape[-1] != shape[-2]:
        return "Det needs square matrices"
    if not 1 <= shape[-1] <= MAX_ORDER:
        return f"Det of {shape[-1]}x{shape[-1]} matrices is not lowered (at most " \
            f"{MAX_ORDER}x{MAX_ORDER}: larger ones need pivoting)"
    return None


def _terms(order: int) -> tuple[np.ndarray, np.ndarray]:
    """The flat positions of each term's entries [n!, n] and each term's sign [n!]."""
    found = list(permutations(range(order)))
    positions = np.asarray([[row * order + p[row] for row in range(order)] for p in found],
                           np.int32)
    signs = np.asarray([_sign(p) for p in found], np.float32)
    return positions, signs


def _sign(permutation: tuple[int, ...]) -> int:
    inversions = sum(a > b for i, a in enumerate(permutation) for b in permutation[i + 1:])
    return -1 if inversions % 2 else 1


def emit_det(ctx: EmitContext, node: ir.Node) -> None:
    shape = ctx.shape(node.inputs[0])
    order = shape[-1]
    batch = int(np.prod(shape[:-2], dtype=np.int64))
    positions, signs = _terms(order)
    flat = ctx.temp("matrices", np.float32, [batch, order * order])
    ctx.op("RESHAPE", [ctx.input(node.inputs[0]), ctx.int32([batch, order * order])], [flat])
    entries_ = ctx.temp("entries", np.float32, [batch, len(signs), order])
    ctx.op("GATHER", [flat, ctx.const(positions, "positions")], [entries_],
           options("GatherOptions", axis=1))
    products = ctx.temp("products", np.float32, [batch, len(signs)])
    ctx.op("REDUCE_PROD", [entries_, ctx.int32([2])], [products],
           options("ReducerOptions", keepDims=False))
    signed = ctx.temp("terms", np.float32, [batch, len(signs)])
    ctx.op("MUL", [products, ctx.const(signs, "signs")], [signed], options("MulOptions"))
    total = ctx.temp("det", np.float32, [batch])
    ctx.op("SUM", [signed, ctx.int32([1])], [total], options("ReducerOptions", keepDims=False))
    ctx.op("RESHAPE", [total, ctx.int32(list(shape[:-2]))], [ctx.output(node.outputs[0])])


def entries() -> dict[str, list[Lowering]]:
    return {"Det": [entry(("RESHAPE", "GATHER", "REDUCE_PROD", "MUL", "SUM"), emit_det,
                          check=check_det, since=11)]}
