"""Shape(x) -> Constant where x's dims are known;
Reshape(x, f(Shape(...))) -> Reshape(x, [d|0|-1, ...]).

Once shape inference knows a value's dims, the subgraphs exporters build to compute them at
run time (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) fold away:
  Shape(x)[i:j], Gather(Shape(x), k), Slice(Shape(x), ...), Size(x) -> the constant, where
      the dims they read are static;
  Reshape(x, s)           -> Reshape(x, spec): static dims as numbers, a dim equal (same
      symbol) to x's dim at that axis as 0 (copy), at most one other as -1;
  Expand(x, s)            -> Expand(x, spec): static dims, 1 where the dim is x's own;
  ConstantOfShape(s)      -> ConstantOfShape(static dims).
Constant folding and dead-node removal follow, and the whole repeats while it changes
something, because each fold can make more shapes static.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passes._graph_edit import (
    add_constant,
    dim_symbol,
    index_by_op,
    infer_shapes,
    replace_value,
    static_dims,
)
from graphkit.passes.fold_constants import FoldConstants
from graphkit.passes.remove_dead_nodes import RemoveDeadNodes
from graphkit.passmanager import Pass, PassContext, PassResult, Pipeline
from graphkit.rewrite import const_array

SHAPE_READERS = ("Shape", "Gather", "Slice", "Size")
SHAPE_TAKERS = ("Reshape", "Expand", "ConstantOfShape")


@dataclass(frozen=True)
class FoldShapes(Pass):
    name = "fold-shapes"
    kind = "rewrite"
    fixes = ("GK304",)
    max_rounds: int = 6

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        sweeps: list[tuple[int, int]] = []
        # Each fold may make more shapes static: fold, then fold the constants that made and
        # drop what is dead, again while the folds find something.
        pipeline = Pipeline((_FoldShapesOnce(sweeps), FoldConstants(), RemoveDeadNodes()),
                            max_steps=self.max_rounds, follow_up=True)
        steps = list(pipeline.steps(model, ctx))
        folded = sum(count for count, _ in sweeps)
        specs = sum(count for _, count in sweeps)
        constants = sum(len(result.changes) for pass_, result in steps
                        if isinstance(pass_, FoldConstants))
        changes = []
        if folded:
            changes.append(f"replaced {folded} Shape/Gather/Slice/Size result(s) with constants")
        if specs:
            changes.append(f"gave {specs} Reshape/Expand/ConstantOfShape node(s) a constant shape")
        if constants:
            changes.append(f"folded {constants} node(s) whose inputs became constant")
        settled = Pipeline.combine(steps, ctx).shapes_current
        return PassResult(modified=folded + specs > 0, changes=changes, shapes_current=settled)


@dataclass(frozen=True)
class _FoldShapesOnce(Pass):
    """One sweep of fold_shapes_once on freshly inferred shapes; `sweeps` gets its counts."""

    name = "fold-shapes-once"
    kind = "rewrite"
    sweeps: list[tuple[int, int]]

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        infer_shapes(model)
        folded, specs = fold_shapes_once(model.graph)
        self.sweeps.append((folded, specs))
        # Nothing folded: the inference just made saw the graph as it is left.
        return PassResult(modified=folded + specs > 0, shapes_current=not (folded or specs))


def fold_shapes_once(graph: ir.Graph) -> tuple[int, int]:
    """One sweep: (values replaced by constants, shape inputs made constant)."""
    index = index_by_op(graph, SHAPE_READERS + SHAPE_TAKERS)
    folded = 0
    for op in SHAPE_READERS:  # Shape first: Gather/Slice then read folded Shapes as constants
        for node in index.get(op, []):
            dims = _read_dims(node)
            if dims is not None and _replace_output(graph, node, dims):
                folded += 1
    specs = 0
    for op in SHAPE_TAKERS:
        for node in index.get(op, []):
            specs += _give_constant_shape(graph, node)
    return folded, specs


def _read_dims(node: ir.Node) -> np.ndarray | None:
    """The int64 array the shape-reading node computes, when the dims it reads are static."""
    if node.op_type == "Size":
        dims = static_dims(node.inputs[0].shape)
        return None if dims is None else np.array(int(np.prod(dims)), dtype=np.int64)
    if node.op_type == "Shape":
        return _static_slice(_shape_dims(node), None)
    source = node.inputs[0].producer() if node.inputs[0] is not None else None
    if source is None or source.op_type != "Shape" or const_array(node.inputs[0]) is not None:
        return None
    dims = _shape_dims(source)
    if node.op_type == "Gather":
        indices = const_array(node.inputs[1])
        if indices is None or dims is None:
            return None
        return _static_slice(dims, indices.astype(np.int64))
    return _slice_of(node, dims)


def _shape_dims(shape_node: ir.Node) -> list | None:
    """What Shape(x) returns, dims still symbolic: x's dims cut to [start:end]."""
    shape = shape_node.inputs[0].shape
    if shape is None:
        return None
    dims = list(shape)
    start = shape_node.attributes.get_int("start", 0)
    end = shape_node.attributes.get_int("end", len(dims))
    return dims[slice(start, end)]


def _static_slice(dims: list | None, indices: np.ndarray | None) -> np.ndarray | None:
    """dims (or dims[indices]) as an int64 array, if every dim picked is static."""
    if dims is None:
        return None
    if indices is None:
        picked, shape = dims, (len(dims),)
    elif np.any(indices >= len(dims)) or np.any(indices < -len(dims)):
        return None  # out of range: leave the error to run time
    else:
        picked, shape = [dims[int(i)] for i in indices.ravel()], indices.shape
    if not all(isinstance(dim, int) for dim in picked):
        return None
    return np.array(picked, dtype=np.int64).reshape(shape)


def _slice_of(node: ir.Node, dims: list | None) -> np.ndarray | None:
    """Slice(Shape(x), starts, ends[, axes, steps]) on a rank-1 shape."""
    args = [const_array(v) if v is not None else None for v in node.inputs[1:]]
    if dims is None or len(args) < 2 or args[0] is None or args[1] is None:
        return None
    if any(arg is None for arg in args[2:]):
        return None
    if len(args) > 2 and int(args[2].ravel()[0]) not in (0, -1):
        return None  # a shape is rank 1: only axis 0 exists
    step = int(args[3].ravel()[0]) if len(args) > 3 else 1
    start, end = int(args[0].ravel()[0]), int(args[1].ravel()[0])
    picked = dims[slice(start, end, step)]
    if not all(isinstance(dim, int) for dim in picked):
        return None
    return np.array(picked, dtype=np.int64)


def _replace_output(graph: ir.Graph, node: ir.Node, array: np.ndarray) -> bool:
    out = node.outputs[0]
    constant = add_constant(graph, array, f"{out.name}_static")
    if replace_value(out, constant):
        return True
    graph.initializers.pop(constant.name)
    return False


def _give_constant_shape(graph: ir.Graph, node: ir.Node) -> int:
    slot = 0 if node.op_type == "ConstantOfShape" else 1
    if (len(node.inputs) <= slot or node.inputs[slot] is None
            or const_array(node.inputs[slot]) is not None):
        return 0
    spec = _spec_for(node)
    if spec is None:
        return 0
    constant = add_constant(graph, np.array(spec, dtype=np.int64),
                            f"{node.name or node.op_type}_shape")
    node.replace_input_with(slot, constant)
    return 1


def _spec_for(node: ir.Node) -> list[int] | None:
    out_shape = node.outputs[0].shape
    if out_shape is None:
        return None
    if node.op_type == "ConstantOfShape":
        return static_dims(out_shape)
    in_shape = node.inputs[0].shape
    if node.op_type == "Expand":
        return _expand_spec(list(out_shape), None if in_shape is None else list(in_shape))
    allowzero = node.attributes.get_int("allowzero", 0)
    return _reshape_spec(list(out_shape), None if in_shape is None else list(in_shape), allowzero)


def _reshape_spec(out: list, given: list | None, allowzero: int) -> list[int] | None:
    spec: list[int] = []
    for axis, dim in enumerate(out):
        if isinstance(dim, int):
            if dim == 0 and not allowzero:
                return None  # a literal 0 would mean "copy the input's dim"
            spec.append(dim)
        elif _same_dim(dim, given, axis) and not allowzero:
            spec.append(0)
        else:
            spec.append(-1)
    return spec if spec.count(-1) <= 1 else None


def _expand_spec(out: list, given: list | None) -> list[int] | None:
    offset = len(out) - len(given) if given is not None else 0
    spec: list[int] = []
    for axis, dim in enumerate(out):
        if isinstance(dim, int):
            spec.append(dim)
        elif given is not None and _same_dim(dim, given, axis - offset):
            spec.append(1)  # broadcasting 1 against x's own dim keeps x's dim
        else:
            return None
    return spec


def _same_dim(dim, given: list | None, axis: int) -> bool:
    if given is None or not 0 <= axis < len(given):
        return False
    symbol = dim_symbol(dim)
    return symbol is not None and symbol == dim_symbol(given[axis])
