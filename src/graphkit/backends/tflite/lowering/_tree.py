"""ai.onnx.ml TreeEnsemble (opset 5) on float32 inputs, its trees unrolled when converting.

A row reaches a leaf exactly when every node on the leaf's path says so; each node is one
comparison of a feature column (GATHER) with its split, or with each member of its set:

    node     c = x[:, f] <op> split   (OR x != x where a missing value goes the true way)
    leaf     reached = AND of c / NOT c along its path
    tree     v = SELECT_V2 over its leaves: weight in the leaf's target column, the
             aggregate's neutral value (0, or +-inf for MIN/MAX) in the others
    result   sum (SUM; AVERAGE with weights / number of trees), MINIMUM or MAXIMUM of the
             trees' v, tree by tree as onnx's reference adds them

One leaf per tree is reached, so the sum adds the same float32 values in the same order.
A double input (and double splits) is refused: float32 would round both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    F32,
    EmitContext,
    Lowering,
    attr,
    entry,
    rank,
)

MAX_LEAVES = 4096
_COMPARE = {0: "LESS_EQUAL", 1: "LESS", 2: "GREATER_EQUAL", 3: "GREATER", 4: "EQUAL",
            5: "NOT_EQUAL"}
MEMBER = 6
_SUM, _AVERAGE, _MIN, _MAX = 1, 0, 2, 3


def _array(node: ir.Node, name: str, dtype=None) -> np.ndarray | None:
    held = attr(node, name)
    if held is None:
        return None
    array = held.numpy() if hasattr(held, "numpy") else np.asarray(held)
    return array if dtype is None else array.astype(dtype)


@dataclass
class _Forest:
    """The node arrays, and each tree's leaves as (leaf index, path of (node, branch))."""
    node: ir.Node
    leaves: list[list[tuple[int, list[tuple[int, bool]]]]] = field(default_factory=list)
    members: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        node = self.node
        self.modes = _array(node, "nodes_modes", np.int64)
        self.features = _array(node, "nodes_featureids", np.int64)
        self.splits = _array(node, "nodes_splits")
        self.true_ids = _array(node, "nodes_truenodeids", np.int64)
        self.false_ids = _array(node, "nodes_falsenodeids", np.int64)
        self.true_leaf = _array(node, "nodes_trueleafs", np.int64)
        self.false_leaf = _array(node, "nodes_falseleafs", np.int64)
        self.weights = _array(node, "leaf_weights")
        self.targets = _array(node, "leaf_targetids", np.int64)
        tracks = _array(node, "nodes_missing_value_tracks_true", np.int64)
        self.tracks = tracks if tracks is not None else np.zeros(len(self.modes), np.int64)
        members = _array(node, "membership_values")
        runs = iter(np.split(members, np.flatnonzero(np.isnan(members)) + 1)) \
            if members is not None else iter(())
        for index in np.flatnonzero(self.modes == MEMBER):  # sets in node order
            self.members[int(index)] = next(runs, np.zeros(0))[:-1]
        for root in _array(node, "tree_roots", np.int64):
            self.leaves.append(self._paths(int(root)))

    def _paths(self, root: int) -> list[tuple[int, list[tuple[int, bool]]]]:
        found, stack = [], [(root, [])]
        while stack:
            index, path = stack.pop()
            for branch, child, is_leaf in ((True, self.true_ids, self.true_leaf),
                                           (False, self.false_ids, self.false_leaf)):
                step = [*path, (index, branch)]
                if is_leaf[index]:
                    found.append((int(child[index]), step))
                else:
                    stack.append((int(child[index]), step))
        return found


def check_tree_ensemble(node: ir.Node, values) -> str | None:
    if attr(node, "post_transform", 0) != 0:
        return "TreeEnsemble's post_transform is not lowered (only NONE)"
    if attr(node, "aggregate_function", 1) not in (_SUM, _AVERAGE, _MIN, _MAX):
        return "TreeEnsemble's aggregate_function is not one ONNX defines"
    if values.dtype(node.inputs[0]) == ir.DataType.DOUBLE:
        return "TreeEnsemble on float64: TFLite would compare and add in float32"
    if rank(values, node.inputs[0]) != 2:
        return "TreeEnsemble needs a 2-D input"
    try:
        forest = _Forest(node)
    except (TypeError, ValueError, IndexError, AttributeError):
        return "TreeEnsemble's node arrays do not describe trees"
    roots = _array(node, "tree_roots", np.int64)
    if any(forest.true_leaf[r] and forest.false_leaf[r] and forest.true_ids[r] ==
           forest.false_ids[r] for r in roots):
        return "TreeEnsemble: a tree of one leaf is not lowered (which leaf ONNX's " \
            "reference takes for it differs from the node arrays)"
    if sum(len(t) for t in forest.leaves) > MAX_LEAVES:
        return f"TreeEnsemble with over {MAX_LEAVES} leaves is not unrolled"
    if forest.weights.dtype != np.float32 or forest.splits.dtype != np.float32:
        return "TreeEnsemble's splits and leaf weights must be float32"
    if not np.all(np.isfinite(forest.weights)):
        return "TreeEnsemble's leaf weights must be finite"
    if set(forest.modes.tolist()) - {*_COMPARE, MEMBER}:
        return "TreeEnsemble has a node mode ONNX does not define"
    return None


def emit_tree_ensemble(ctx: EmitContext, node: ir.Node) -> None:
    forest = _Forest(node)
    x = node.inputs[0]
    rows = ctx.shape_or_none(x)[0]
    targets = attr(node, "n_targets")
    aggregate = attr(node, "aggregate_function", 1)
    neutral = {_MIN: np.inf, _MAX: -np.inf}.get(aggregate, 0.0)
    start = {_MIN: np.finfo(np.float32).max, _MAX: np.finfo(np.float32).min}.get(aggregate, 0.0)
    conditions: dict[int, int] = {}
    result = _per_row(ctx, x, np.full(targets, start, np.float32), rows)
    combine = {_MIN: "MINIMUM", _MAX: "MAXIMUM"}.get(aggregate, "ADD")
    for number, leaves in enumerate(forest.leaves):
        tree = ctx.const(np.full(targets, neutral, np.float32), "tree_neutral")
        for leaf, path in leaves:
            weight = forest.weights[leaf]
            if aggregate == _AVERAGE:
                weight = weight / np.float32(len(forest.leaves))
            column = np.full(targets, neutral, np.float32)
            column[forest.targets[leaf]] = weight
            reached = _reached(ctx, forest, x, path, conditions, rows)
            chosen = ctx.temp("tree_value", np.float32, [rows, targets])
            ctx.op("SELECT_V2", [reached, ctx.const(column, "leaf"), tree], [chosen])
            tree = chosen
        last = number == len(forest.leaves) - 1
        out = ctx.output(node.outputs[0]) if last else \
            ctx.temp("forest_sum", np.float32, [rows, targets])
        made = options("AddOptions") if combine == "ADD" else None
        ctx.op(combine, [result, tree], [out], made)
        result = out


def _per_row(ctx: EmitContext, x: ir.Value, row: np.ndarray, rows) -> int:
    """[rows, len(row)]: `row` repeated for each row of x (a SELECT_V2 whose condition has
    x's rows and whose branches are both `row`), so that the sum has x's rows even where
    every tree is one leaf."""
    first = ctx.temp("first_feature", np.float32, [rows, 1])
    ctx.op("GATHER", [ctx.input(x), ctx.int32([0])], [first], options("GatherOptions", axis=1))
    any_row = ctx.temp("any_row", np.bool_, [rows, 1])
    ctx.op("NOT_EQUAL", [first, first], [any_row])
    out = ctx.temp("tree_start", np.float32, [rows, len(row)])
    ctx.op("SELECT_V2", [any_row, ctx.const(row), ctx.const(row)], [out])
    return out


def _reached(ctx: EmitContext, forest: _Forest, x: ir.Value, path, conditions: dict,
             rows) -> int:
    """[rows, 1] bool: the path's conditions all hold (true where the path is empty)."""
    held = None
    for index, branch in path:
        if index not in conditions:
            conditions[index] = _condition(ctx, forest, x, index, rows)
        step = conditions[index]
        if not branch:
            negated = ctx.temp("node_false", np.bool_, [rows, 1])
            ctx.op("LOGICAL_NOT", [step], [negated])
            step = negated
        if held is not None:
            both = ctx.temp("path", np.bool_, [rows, 1])
            ctx.op("LOGICAL_AND", [held, step], [both])
            step = both
        held = step
    return held if held is not None else ctx.const(np.ones((1, 1), np.bool_), "always")


def _condition(ctx: EmitContext, forest: _Forest, x: ir.Value, index: int, rows) -> int:
    column = ctx.temp("feature", np.float32, [rows, 1])
    ctx.op("GATHER", [ctx.input(x), ctx.int32([int(forest.features[index])])], [column],
           options("GatherOptions", axis=1))
    mode = int(forest.modes[index])
    values = forest.members[index] if mode == MEMBER else [forest.splits[index]]
    builtin = "EQUAL" if mode == MEMBER else _COMPARE[mode]
    held = None
    for value in values:
        hit = ctx.temp("node_true", np.bool_, [rows, 1])
        ctx.op(builtin, [column, ctx.const(np.asarray(value, np.float32))], [hit])
        held = hit if held is None else _or(ctx, held, hit, rows)
    if held is None:  # an empty set: no value is a member
        held = ctx.const(np.zeros((1, 1), np.bool_), "no_member")
    if forest.tracks[index]:
        missing = ctx.temp("missing", np.bool_, [rows, 1])
        ctx.op("NOT_EQUAL", [column, column], [missing])
        held = _or(ctx, held, missing, rows)
    return held


def _or(ctx: EmitContext, a: int, b: int, rows) -> int:
    out = ctx.temp("either", np.bool_, [rows, 1])
    ctx.op("LOGICAL_OR", [a, b], [out])
    return out


def entries() -> dict[str, list[Lowering]]:
    builtins = ("GATHER", "LESS_EQUAL", "LESS", "GREATER_EQUAL", "GREATER", "EQUAL",
                "NOT_EQUAL", "LOGICAL_OR", "LOGICAL_AND", "LOGICAL_NOT", "SELECT_V2", "ADD",
                "MINIMUM", "MAXIMUM")
    return {"TreeEnsemble": [entry(builtins, emit_tree_ensemble, dtypes=F32 | {
        ir.DataType.DOUBLE}, check=check_tree_ensemble, since=5)]}
