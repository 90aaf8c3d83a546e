"""Fusion rules for layout chains (Transpose, Reshape) and LayerNormalization's primitive form."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.rewrite import Builder, Constraint, Match, Op, P, Rule, Var


def _perm(m: Match, node_pattern: Op, rank: int | None) -> list[int] | None:
    perm = m.attr(node_pattern, "perm")
    if perm is not None:
        return list(perm)
    return None if rank is None else list(range(rank))[::-1]  # no perm: reverse the axes


def transpose_rules() -> tuple[Rule, ...]:
    x = Var("x")
    inner = P.Transpose(x)
    outer = P.Transpose(inner)

    def composed(m: Match) -> list[int] | None:
        rank = None if m[x].shape is None else len(m[x].shape)
        first, second = _perm(m, inner, rank), _perm(m, outer, rank)
        if first is None or second is None:
            return None
        return [first[axis] for axis in second]

    def build(m: Match, op: Builder) -> ir.Value:
        perm = composed(m)
        if perm == sorted(perm):
            return m[x]  # the two cancel
        return op.Transpose(m[x], perm=perm)

    constraints = (
        Constraint("a Transpose has no perm and the rank is unknown",
                   lambda m: composed(m) is not None),
    )
    # Transpose(Transpose(x, p), q) -> Transpose(x, p[q])   (-> x when p[q] is the identity)
    return (Rule("transposes", outer, build, constraints),)


def reshape_rules() -> tuple[Rule, ...]:
    x, first, second = Var("x"), Var("s1"), Var("s2", const=True)
    outer = P.Reshape(P.Reshape(x, first), second)

    def build(m: Match, op: Builder) -> ir.Value:
        target = [int(v) for v in m.const(second)]
        if m[x].shape is not None and list(m[x].shape) == target:
            return m[x]  # back to where it started
        return op.Reshape(m[x], m[second])

    constraints = (
        # A 0 in the outer shape copies a dim of the inner result, which the fused form no longer
        # has.
        Constraint("the outer shape copies a dim (0) of the inner result",
                   lambda m: 0 not in m.const(second)),
    )
    # Reshape(Reshape(x, s1), s2) -> Reshape(x, s2)   (s2 constant, without 0 entries)
    return (Rule("reshapes", outer, build, constraints, min_opset=5), _no_op_reshape_rule())


def _no_op_reshape_rule() -> Rule:
    x, target = Var("x"), Var("shape", const=True)
    reshape = P.Reshape(x, target)

    def keeps_shape(m: Match) -> bool:
        shape, wanted = m[x].shape, [int(v) for v in m.const(target)]
        if shape is None or len(shape) != len(wanted) or wanted.count(-1) > 1:
            return False
        copies = not m.attr(reshape, "allowzero", 0)  # a 0 copies the input's dim
        # With every other dim equal to the input's, a -1 can only stand for its own dim.
        return all(t == -1 or (t == 0 and copies) or (isinstance(d, int) and d == t)
                   for d, t in zip(shape, wanted, strict=True))

    constraints = (Constraint("the Reshape changes the shape (or the input's is not known)",
                              keeps_shape),)
    # Reshape(x, s) -> x   where s gives x's own shape (-1 and 0 entries included)
    return Rule("no-op-reshape", reshape, lambda m, op: m[x], constraints, min_opset=5)


# --- LayerNormalization ---------------------------------------------------------------


def layer_norm_rules() -> tuple[Rule, ...]:
    return tuple(_layer_norm_rule(axes_input, with_bias)
                 for axes_input in (False, True) for with_bias in (True, False))


def _layer_norm_rule(axes_input: bool, with_bias: bool) -> Rule:
    x, eps = Var("x"), Var("eps", const=True)
    scale, bias = Var("scale", const=True), Var("bias", const=True)
    axes1, axes2 = Var("axes1", const=True), Var("axes2", const=True)
    mean = P.ReduceMean(x, axes1) if axes_input else P.ReduceMean(x)
    centered = P.Sub(x, mean)
    square = P.Pow(centered, 2.0)
    variance = P.ReduceMean(square, axes2) if axes_input else P.ReduceMean(square)
    normed = P.Div(centered, P.Sqrt(P.Add(variance, eps)))
    pattern = P.Add(P.Mul(normed, scale), bias) if with_bias else P.Mul(normed, scale)

    def axes(m: Match, reduce: Op, axes_var: Var) -> list[int] | None:
        raw = m.const(axes_var) if axes_input else m.attr(reduce, "axes")
        rank = None if m[x].shape is None else len(m[x].shape)
        if raw is None or rank is None:
            return None
        return sorted(int(a) % rank for a in np.asarray(raw).ravel())

    def trailing_axes(m: Match) -> bool:
        first, second = axes(m, mean, axes1), axes(m, variance, axes2)
        rank = None if m[x].shape is None else len(m[x].shape)
        return (first is not None and first == second
                and first == list(range(rank - len(first), rank)))

    def normalized_shape(m: Match) -> tuple[int, ...] | None:
        k = len(axes(m, mean, axes1))
        dims = tuple(m[x].shape)[-k:]
        return dims if all(isinstance(d, int) for d in dims) else None

    def params_fit(m: Match) -> bool:
        shape = normalized_shape(m)
        arrays = [m.const(scale)] + ([m.const(bias)] if with_bias else [])
        return shape is not None and all(_broadcasts_to(a.shape, shape) for a in arrays)

    def build(m: Match, op: Builder) -> ir.Value:
        shape = normalized_shape(m)
        dtype = m.const(scale).dtype
        gamma = op.const(_fit(m.const(scale), shape))
        beta = op.const(_fit(m.const(bias) if with_bias else np.zeros((), dtype), shape))
        return op.LayerNormalization(m[x], gamma, beta, axis=-len(shape),
                                     epsilon=float(m.const(eps).reshape(())))

    keepdims = lambda m: m.attr(mean, "keepdims", 1) == 1 and m.attr(variance, "keepdims", 1) == 1  # noqa: E731
    constraints = (
        Constraint("the reductions do not keep dims", keepdims),
        Constraint("the reductions are not over the same trailing axes", trailing_axes),
        Constraint("epsilon is not a scalar", lambda m: m.const(eps).size == 1),
        Constraint("scale/bias do not fit the (static) normalized shape", params_fit),
    )
    # (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * scale + bias
    #     -> LayerNormalization(x, scale, bias)
    return Rule("layer-norm", pattern, build, constraints, min_opset=17)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    if len(shape) > len(target):
        return all(d == 1 for d in shape[: len(shape) - len(target)]) and \
            _broadcasts_to(shape[len(shape) - len(target):], target)
    return all(d in (1, t) for d, t in zip(shape[::-1], target[::-1]))


def _fit(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`array` (broadcastable, maybe with extra leading 1s) materialized at exactly `shape`."""
    if array.ndim > len(shape):
        array = array.reshape(array.shape[array.ndim - len(shape):])
    return np.broadcast_to(array, shape).copy()
