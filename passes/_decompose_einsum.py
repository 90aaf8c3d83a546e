"""Einsum as Transpose / ReduceSum / Reshape / MatMul, for one or two operands with static shapes.

Two operands: each index is a batch index (both inputs and the output), a contracted
index (both inputs, not the output), or free (one input and the output); an index in
one input only and not in the output is summed away first. Then
A -> [batch, M, K], B -> [batch, K, N], MatMul, reshape and transpose to the output.
Repeated indices within one operand (diagonals, traces) are declined.
"""

from __future__ import annotations

import string

import numpy as np
import onnx_ir as ir

from graphkit.passes._decompose_activation import attr
from graphkit.rewrite import Builder, Decline, static_shape


def parse_equation(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Operand subscripts and output subscripts, with '...' spelled out as fresh letters."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise Decline(f"equation '{equation}' names {len(terms)} operands, node has {len(ranks)}")
    unused = [c for c in string.ascii_letters if c not in equation]
    ellipsis_rank = max((rank - len(term.replace("...", "")) for term, rank in zip(terms, ranks)
                         if "..." in term), default=0)
    spelled = "".join(unused[:ellipsis_rank])
    expanded = []
    for term, rank in zip(terms, ranks):
        own = rank - len(term.replace("...", ""))
        expanded.append(
            term.replace("...", spelled[ellipsis_rank - own:]) if "..." in term else term
        )
    for term, rank in zip(expanded, ranks):
        if len(term) != rank:
            raise Decline(f"subscripts '{term}' do not match an operand of rank {rank}")
        if len(set(term)) != len(term):
            raise Decline(f"repeated index in '{term}' (diagonal/trace) is not decomposed")
    if arrow:
        output = rhs.replace("...", spelled)
    else:  # implicit output: the ellipsis dims, then indices seen once, alphabetically
        counts = "".join(expanded)
        output = spelled + "".join(
            sorted(c for c in set(counts) if counts.count(c) == 1 and c not in spelled)
        )
    return expanded, output


def einsum(node: ir.Node, op: Builder) -> ir.Value:
    """Einsum(eq, A[, B]) -> Transpose/ReduceSum (one operand) or batched MatMul (two)"""
    shapes = [static_shape(value) for value in node.inputs]
    if any(shape is None for shape in shapes):
        raise Decline("needs static input shapes")
    if len(shapes) > 2:
        raise Decline(f"{len(shapes)} operands (only one or two are decomposed)")
    terms, output = parse_equation(attr(node, "equation", ""), [len(s) for s in shapes])
    if len(terms) == 1:
        return _unary(op, node.inputs[0], terms[0], output)
    return _binary(op, list(node.inputs), terms, output, shapes)


def _sum_unused(op: Builder, x: ir.Value, term: str, keep: str) -> tuple[ir.Value, str]:
    """Sum away indices of `term` not in `keep`; returns the value and its remaining subscripts."""
    drop = [axis for axis, index in enumerate(term) if index not in keep]
    if not drop:
        return x, term
    return op.reduce("ReduceSum", x, drop, keepdims=0), "".join(i for i in term if i in keep)


def _permute(op: Builder, x: ir.Value, term: str, order: str) -> ir.Value:
    if term == order:
        return x
    return op.Transpose(x, perm=[term.index(index) for index in order])


def _unary(op: Builder, x: ir.Value, term: str, output: str) -> ir.Value:
    reduced, remaining = _sum_unused(op, x, term, output)
    return _permute(op, reduced, remaining, output)


def _binary(op: Builder, inputs: list[ir.Value], terms: list[str], output: str,
            shapes: list[tuple[int, ...]]) -> ir.Value:
    a_term, b_term = terms
    size = {i: d for term, shape in zip(terms, shapes) for i, d in zip(term, shape)}
    for term, shape in zip(terms, shapes):
        if any(size[i] != d for i, d in zip(term, shape)):
            raise Decline("broadcasting between operands (size-1 dims) is not decomposed")
    a, a_term = _sum_unused(op, inputs[0], a_term, output + b_term)
    b, b_term = _sum_unused(op, inputs[1], b_term, output + a_term)
    batch = "".join(i for i in output if i in a_term and i in b_term)
    contracted = "".join(i for i in a_term if i in b_term and i not in output)
    left = "".join(i for i in a_term if i not in b_term)
    right = "".join(i for i in b_term if i not in a_term)
    dims = lambda indices: int(np.prod([size[i] for i in indices]))  # noqa: E731
    a = _as_3d(op, _permute(op, a, a_term, batch + left + contracted),
               dims(batch), dims(left), dims(contracted))
    b = _as_3d(op, _permute(op, b, b_term, batch + contracted + right),
               dims(batch), dims(contracted), dims(right))
    product = op.MatMul(a, b)  # [batch, M, N]
    produced = batch + left + right
    unfolded = op.Reshape(product, op.const(np.array([size[i] for i in produced] or [], np.int64)))
    return _permute(op, unfolded, produced, output)


def _as_3d(op: Builder, x: ir.Value, batch: int, rows: int, cols: int) -> ir.Value:
    return op.Reshape(x, op.const(np.array([batch, rows, cols], np.int64)))
