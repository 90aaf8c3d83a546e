"""TfIdfVectorizer on integer tokens, as comparisons and sums.

ONNX counts, per row of X, each n-gram of the pool whose size is in [min_gram_length,
max_gram_length]: a unigram once per position; an n-gram of two or more items once per
position and per skip distance d in 1..max_skip_count+1, its items taken d apart. For the
pool's n-grams of one size n and one distance d, with L = C - (n-1) d windows:

    hits[r, l, k] = AND_j  X[r, l + j d] == pool[k][j]        (SLICE, EQUAL, LOGICAL_AND)
    count[r, k]  += sum_l hits[r, l, k]                       (CAST, SUM)

The counts of every n-gram go to their output columns (ngram_indexes) by one BATCH_MATMUL
with a 0/1 matrix, then the mode weighs them: TF the counts, IDF weights[i] where the
count is not zero, TFIDF weights[i] * count. Counts are small integers, so float32 holds
them exactly. String pools are refused (LiteRT's runner takes no string inputs here)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext, Lowering, attr, entry, static_shape

TOKENS = frozenset({ir.DataType.INT32, ir.DataType.INT64})
MAX_COMPARISONS = 1 << 22  # rows * windows * pool n-grams over every (size, distance)


def pool_grams(node: ir.Node) -> list[tuple[tuple[int, ...], int]]:
    """The pool's counted n-grams, each with its output column, in the pool's order."""
    pool = [int(v) for v in attr(node, "pool_int64s", [])]
    starts = [int(v) for v in attr(node, "ngram_counts", [])]
    indexes = [int(v) for v in attr(node, "ngram_indexes", [])]
    low, high = int(attr(node, "min_gram_length")), int(attr(node, "max_gram_length"))
    grams: list[tuple[tuple[int, ...], int]] = []
    number = 0  # the n-gram's position over the whole pool: its ngram_indexes entry
    for size, start in enumerate(starts, start=1):
        end = starts[size] if size < len(starts) else len(pool)
        for offset in range(start, end - size + 1, size):
            if low <= size <= high:
                grams.append((tuple(pool[offset:offset + size]), indexes[number]))
            number += 1
    return grams


def check_tfidf(node: ir.Node, values) -> str | None:
    if attr(node, "pool_strings", None):
        return "TfIdfVectorizer with a string pool has no TFLite lowering in graphkit"
    shape = static_shape(values, node.inputs[0])
    if shape is None or len(shape) not in (1, 2):
        return "TfIdfVectorizer needs a static [C] or [B, C] input"
    low, high = int(attr(node, "min_gram_length")), int(attr(node, "max_gram_length"))
    if not 1 <= low <= high:
        return f"TfIdfVectorizer: gram lengths {low}..{high} are not a range from 1"
    starts = [int(v) for v in attr(node, "ngram_counts", [])]
    pool = attr(node, "pool_int64s", [])
    if any(b < a for a, b in zip(starts, [*starts[1:], len(pool)])) \
            or any(s > len(pool) for s in starts):
        return "TfIdfVectorizer's ngram_counts do not split its pool"
    indexes = attr(node, "ngram_indexes", [])
    wanted = sum((end - start) // size for size, (start, end)
                 in enumerate(zip(starts, [*starts[1:], len(pool)]), start=1))
    if len(indexes) < wanted or min(indexes, default=0) < 0:
        return "TfIdfVectorizer's ngram_indexes do not name a column for every n-gram"
    tokens = values.dtype(node.inputs[0]) or node.inputs[0].dtype
    limit = np.iinfo(np.int32)
    if tokens == ir.DataType.INT32 and any(not limit.min <= int(v) <= limit.max for v in pool):
        return "TfIdfVectorizer's pool holds values an int32 input cannot equal"
    grams = [gram for gram, _ in pool_grams(node)]
    if len(set(grams)) != len(grams):
        return "TfIdfVectorizer's pool repeats an n-gram"
    weights = attr(node, "weights", None)
    if weights and len(weights) < max(indexes) + 1:
        return "TfIdfVectorizer has fewer weights than output columns"
    rows = shape[0] if len(shape) == 2 else 1
    if rows * shape[-1] * max(len(grams), 1) * (int(attr(node, "max_skip_count", 0)) + 1) \
            > MAX_COMPARISONS:
        return "TfIdfVectorizer: input times pool is too large to unroll"
    return None


def emit_tfidf(ctx: EmitContext, node: ir.Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    rows, width = (shape[0] if len(shape) == 2 else 1), shape[-1]
    tokens = ctx.temp("tfidf_tokens", ctx.dtype(x), [rows, width])
    ctx.op("RESHAPE", [ctx.input(x), ctx.int32([rows, width])], [tokens])
    grams = pool_grams(node)
    columns = max(int(v) for v in attr(node, "ngram_indexes")) + 1
    by_size: dict[int, list[int]] = defaultdict(list)  # size -> positions in `grams`
    for position, (gram, _) in enumerate(grams):
        by_size[len(gram)].append(position)
    skips = int(attr(node, "max_skip_count", 0))
    counts: list[tuple[list[int], int]] = []  # (positions in `grams`, their [rows, k] counts)
    for size, positions in sorted(by_size.items()):
        table = np.array([grams[p][0] for p in positions], ctx.dtype(x)).reshape(-1, size)
        found = [_count(ctx, tokens, table, rows, width, distance)
                 for distance in (range(1, 2) if size == 1 else range(1, skips + 2))]
        found = [f for f in found if f is not None]
        if found:
            counts.append((positions, _summed(ctx, found, rows, len(positions))))
    scores = _to_columns(ctx, counts, grams, rows, columns)
    out = ctx.output(y)
    weighted = _weighted(ctx, node, scores, rows, columns)
    ctx.op("RESHAPE", [weighted, ctx.int32(ctx.shape(y))], [out])


def _count(ctx: EmitContext, tokens: int, table: np.ndarray, rows: int, width: int,
           distance: int) -> int | None:
    """[rows, k] float32: how often each row of `table` occurs, its items `distance` apart."""
    size, kinds = table.shape[1], table.shape[0]
    windows = width - (size - 1) * distance
    if windows <= 0:
        return None
    hits = None
    for item in range(size):
        part = ctx.temp("tfidf_part", table.dtype, [rows, windows])
        ctx.op("SLICE", [tokens, ctx.int32([0, item * distance]), ctx.int32([rows, windows])],
               [part])
        column = ctx.temp("tfidf_column", table.dtype, [rows, windows, 1])
        ctx.op("RESHAPE", [part, ctx.int32([rows, windows, 1])], [column])
        equal = ctx.temp("tfidf_equal", np.bool_, [rows, windows, kinds])
        ctx.op("EQUAL", [column, ctx.const(np.ascontiguousarray(table[:, item]), "tfidf_pool")],
               [equal])
        if hits is not None:
            both = ctx.temp("tfidf_hits", np.bool_, [rows, windows, kinds])
            ctx.op("LOGICAL_AND", [hits, equal], [both])
            equal = both
        hits = equal
    as_float = ctx.temp("tfidf_hits_f", np.float32, [rows, windows, kinds])
    ctx.op("CAST", [hits], [as_float])
    count = ctx.temp("tfidf_count", np.float32, [rows, kinds])
    ctx.op("SUM", [as_float, ctx.int32([1])], [count], options("ReducerOptions", keepDims=False))
    return count


def _summed(ctx: EmitContext, parts: list[int], rows: int, kinds: int) -> int:
    total = parts[0]
    for part in parts[1:]:
        added = ctx.temp("tfidf_sum", np.float32, [rows, kinds])
        ctx.op("ADD", [total, part], [added])
        total = added
    return total


def _to_columns(ctx: EmitContext, counts: list[tuple[list[int], int]],
                grams: list[tuple[tuple[int, ...], int]], rows: int, columns: int) -> int:
    """The counts in their output columns: [rows, k] x [k, columns] 0/1 for each size."""
    if not counts:
        return ctx.const(np.zeros((rows, columns), np.float32), "tfidf_none")
    total = None
    for positions, count in counts:
        placing = np.zeros((len(positions), columns), np.float32)
        for row, position in enumerate(positions):
            placing[row, grams[position][1]] = 1.0
        placed = ctx.temp("tfidf_placed", np.float32, [rows, columns])
        ctx.op("BATCH_MATMUL", [count, ctx.const(placing, "tfidf_columns")], [placed],
               options("BatchMatMulOptions", adjX=False, adjY=False))
        if total is not None:
            added = ctx.temp("tfidf_total", np.float32, [rows, columns])
            ctx.op("ADD", [total, placed], [added])
            placed = added
        total = placed
    return total


def _weighted(ctx: EmitContext, node: ir.Node, scores: int, rows: int, columns: int) -> int:
    mode = attr(node, "mode", "TF")
    weights = attr(node, "weights", None)
    if mode == "TF" or (mode == "TFIDF" and not weights):
        return scores
    scale = np.asarray(weights[:columns] if weights else np.ones(columns), np.float32)
    if mode == "IDF":  # weights[i] where the n-gram occurs at all
        present = ctx.temp("tfidf_present", np.bool_, [rows, columns])
        ctx.op("GREATER", [scores, ctx.const(np.zeros((), np.float32), "tfidf_zero")], [present])
        scores = ctx.temp("tfidf_present_f", np.float32, [rows, columns])
        ctx.op("CAST", [present], [scores])
    out = ctx.temp("tfidf_weighted", np.float32, [rows, columns])
    ctx.op("MUL", [scores, ctx.const(scale, "tfidf_weights")], [out])
    return out


def entries() -> dict[str, list[Lowering]]:
    builtins = ("RESHAPE", "SLICE", "EQUAL", "LOGICAL_AND", "CAST", "SUM", "ADD",
                "BATCH_MATMUL", "GREATER", "MUL")
    return {"TfIdfVectorizer": [entry(builtins, emit_tfidf, dtypes=TOKENS, check=check_tfidf)]}
