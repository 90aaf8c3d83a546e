"""Einsum of static shapes as TRANSPOSE, RESHAPE, SUM, GATHER and BATCH_MATMUL.

Each operand first loses what only it has: a label repeated in it becomes its diagonal
(the two dims transposed last, merged, and every (n+1)-th element GATHERed), a size-1 dim
that another operand has larger is broadcast (dropped, the other operand's dim stays),
and a label no one else needs is summed out (SUM). Operands are then contracted left to
right, two at a time, as one BATCH_MATMUL:

    A [batch, m, k] x B [batch, k, n] -> [batch, m, n]

with batch the labels both have and someone later needs, k the labels both have and no
one needs, m and n the labels of one only; each side TRANSPOSEd and RESHAPEd to three
dims. The result is TRANSPOSEd to the output's order. Products and sums run in float32
as MatMul's do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    entry,
    static_shape,
)

MAX_RANK = 6  # TRANSPOSE's limit


def parse(equation: str, ranks: list[int]) -> tuple[list[str], str] | str:
    """The labels of each operand and of the output, an ellipsis spelled out as labels of
    its own (right-aligned across operands, as numpy broadcasts); or why it cannot be."""
    text = equation.replace(" ", "")
    given, arrow, out = text.partition("->")
    terms = given.split(",")
    if len(terms) != len(ranks):
        return f"Einsum's equation names {len(terms)} operands for {len(ranks)} inputs"
    widths = []
    for term, rank_ in zip(terms, ranks, strict=True):
        explicit = len(term.replace("...", ""))
        if "..." not in term and explicit != rank_ or explicit > rank_:
            return f"Einsum's term '{term}' does not fit an input of rank {rank_}"
        widths.append(rank_ - explicit if "..." in term else 0)
    spread = max(widths, default=0)
    hidden = [chr(0x100 + i) for i in range(spread)]  # labels no equation can spell
    labels = [term.replace("...", "".join(hidden[spread - width:]))
              for term, width in zip(terms, widths, strict=True)]
    if arrow:
        output = out.replace("...", "".join(hidden))
    else:
        counts = {c: "".join(labels).count(c) for c in "".join(labels)}
        output = "".join(hidden) + "".join(sorted(c for c, n in counts.items()
                                                   if n == 1 and c not in hidden))
    if len(set(output)) != len(output) or not set(output) <= set("".join(labels)):
        return f"Einsum's output '{out}' repeats a label or names one no input has"
    return labels, output


def _plan(node: ir.Node, values) -> tuple[list[str], str, list[tuple[int, ...]]] | str:
    shapes = [static_shape(values, v) for v in node.inputs]
    if any(s is None for s in shapes):
        return "Einsum needs static input shapes"
    if any(len(s) > MAX_RANK for s in shapes):
        return f"Einsum of inputs of rank over {MAX_RANK} is not lowered"
    parsed = parse(attr(node, "equation", ""), [len(s) for s in shapes])
    if isinstance(parsed, str):
        return parsed
    labels, output = parsed
    sizes: dict[str, int] = {}
    for term, shape in zip(labels, shapes, strict=True):
        for label, size in zip(term, shape, strict=True):
            if sizes.get(label, 1) not in (1, size) and size != 1:
                return f"Einsum's label '{label}' has sizes {sizes[label]} and {size}"
            sizes[label] = max(sizes.get(label, 1), size)
    return labels, output, shapes


def check_einsum(node: ir.Node, values) -> str | None:
    found = _plan(node, values)
    return found if isinstance(found, str) else None


@dataclass
class _Term:
    tensor: int
    labels: str
    shape: tuple[int, ...]


class _Steps:
    """Builtins on labelled tensors."""

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx

    def _new(self, labels: str, shape, name: str) -> _Term:
        return _Term(self.ctx.temp(name, np.float32, list(shape)), labels, tuple(shape))

    def transpose(self, term: _Term, labels: str) -> _Term:
        if labels == term.labels:
            return term
        perm = [term.labels.index(c) for c in labels]
        out = self._new(labels, [term.shape[p] for p in perm], "einsum_t")
        self.ctx.op("TRANSPOSE", [term.tensor, self.ctx.int32(perm)], [out.tensor])
        return out

    def reshape(self, term: _Term, labels: str, shape) -> _Term:
        if tuple(shape) == term.shape:
            return _Term(term.tensor, labels, term.shape)
        out = self._new(labels, shape, "einsum_r")
        self.ctx.op("RESHAPE", [term.tensor, self.ctx.int32(list(shape))], [out.tensor])
        return out

    def diagonal(self, term: _Term, label: str) -> _Term:
        """The term with its first two dims of `label` replaced by their diagonal."""
        first = term.labels.index(label)
        second = term.labels.index(label, first + 1)
        others = [i for i in range(len(term.labels)) if i not in (first, second)]
        rest = "".join(term.labels[i] for i in others)
        outer = [term.shape[i] for i in others]
        size = term.shape[first]
        moved = self._new(rest + label + label, [*outer, size, size], "einsum_t")
        self.ctx.op("TRANSPOSE", [term.tensor, self.ctx.int32([*others, first, second])],
                    [moved.tensor])
        merged = self.reshape(moved, rest + label, [*outer, size * size])
        out = self._new(rest + label, [*outer, size], "einsum_diag")
        picks = self.ctx.int32(np.arange(size) * (size + 1))
        self.ctx.op("GATHER", [merged.tensor, picks], [out.tensor],
                    options("GatherOptions", axis=len(outer)))
        return out

    def summed(self, term: _Term, labels: str) -> _Term:
        axes = [term.labels.index(c) for c in labels]
        kept = "".join(c for c in term.labels if c not in labels)
        shape = [term.shape[term.labels.index(c)] for c in kept]
        if all(term.shape[a] == 1 for a in axes):
            return self.reshape(term, kept, shape)
        out = self._new(kept, shape, "einsum_sum")
        self.ctx.op("SUM", [term.tensor, self.ctx.int32(axes)], [out.tensor],
                    options("ReducerOptions", keepDims=False))
        return out

    def matmul(self, a: _Term, b: _Term, batch: str, k: str) -> _Term:
        size = dict(zip(a.labels + b.labels, a.shape + b.shape, strict=True))
        m = "".join(c for c in a.labels if c not in batch + k)
        n = "".join(c for c in b.labels if c not in batch + k)

        def count(labels: str) -> int:
            return int(np.prod([size[c] for c in labels], dtype=np.int64))

        left = self.reshape(self.transpose(a, batch + m + k), batch + m + k,
                            [count(batch), count(m), count(k)])
        right = self.reshape(self.transpose(b, batch + k + n), batch + k + n,
                             [count(batch), count(k), count(n)])
        product = self._new("", [count(batch), count(m), count(n)], "einsum_mm")
        self.ctx.op("BATCH_MATMUL", [left.tensor, right.tensor], [product.tensor],
                    options("BatchMatMulOptions", adjX=False, adjY=False))
        labels = batch + m + n
        return self.reshape(product, labels, [size[c] for c in labels])


def _prepared(steps: _Steps, term: _Term, needed: set[str], sizes: dict[str, int]) -> _Term:
    """The term without repeated labels, broadcast size-1 dims and labels no one needs."""
    for label in dict.fromkeys(term.labels):
        while term.labels.count(label) > 1:
            term = steps.diagonal(term, label)
    broadcast = "".join(c for c, d in zip(term.labels, term.shape, strict=True)
                        if d == 1 and sizes[c] > 1)
    if broadcast:
        term = steps.summed(term, broadcast)
    unused = "".join(c for c in term.labels if c not in needed)
    return steps.summed(term, unused) if unused else term


def emit_einsum(ctx: EmitContext, node: ir.Node) -> None:
    labels, output, shapes = _plan(node, ctx.values)
    sizes: dict[str, int] = {}
    for term, shape in zip(labels, shapes, strict=True):
        for label, size in zip(term, shape, strict=True):
            sizes[label] = max(sizes.get(label, 1), size)
    steps = _Steps(ctx)
    terms = [_Term(ctx.input(v), term, shape)
             for v, term, shape in zip(node.inputs, labels, shapes, strict=True)]
    later = ["".join(labels[i + 1:]) for i in range(len(labels))]
    result = _prepared(steps, terms[0], set(output + later[0]), sizes)
    for index in range(1, len(terms)):
        needed = set(output + later[index])
        other = _prepared(steps, terms[index], needed | set(result.labels), sizes)
        result = _prepared(steps, result, needed | set(other.labels), sizes)
        shared = "".join(c for c in result.labels if c in other.labels)
        batch = "".join(c for c in shared if c in needed)
        k = "".join(c for c in shared if c not in needed)
        result = steps.matmul(result, other, batch, k)
    result = _prepared(steps, result, set(output), sizes)
    result = steps.transpose(result, output)
    out = ctx.output(node.outputs[0])
    ctx.op("RESHAPE", [result.tensor, ctx.int32([sizes[c] for c in output])], [out])


def entries() -> dict[str, list[Lowering]]:
    builtins = ("TRANSPOSE", "RESHAPE", "GATHER", "SUM", "BATCH_MATMUL")
    return {"Einsum": [entry(builtins, emit_einsum, check=check_einsum, since=12)]}
