"""ONNX If and Loop as TFLite control flow: IF with a subgraph per branch, WHILE with a
condition and a body subgraph.

ONNX bodies read values of the graphs around them by name; a TFLite subgraph sees only its
inputs. So every non-constant value a body reads from outside (its capture) becomes an
input of the IF or a loop variable of the WHILE, and an input of the subgraph (constants
are written into the subgraph instead).

Loop(M, cond, v...) with body (i, cond, v...) -> (cond, v...) becomes WHILE over
(i, M, cond, v..., captures...): the condition subgraph computes i < M and cond, the body
subgraph runs ONNX's body, i + 1, and passes M and the captures through. An absent M is
no limit, an absent cond is true. A scan output (one result per iteration, stacked) is a
loop variable too, one CONCATENATION adding each iteration's row (after a placeholder
row, dropped once the loop ends).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import TENSOR_TYPES, options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    EmitContext,
    Lowering,
    Stored,
    attr,
    const_or_dequantized,
    entry,
    static_shape,
)

NO_LIMIT = np.iinfo(np.int64).max


@dataclass
class BodyContext(EmitContext):
    """The context a body's nodes are emitted in: its own tensors, the model's opset."""
    opset: int = 0


def _opset(ctx: EmitContext, node: ir.Node) -> int:
    if isinstance(ctx, BodyContext):
        return ctx.opset
    return node.graph.opset_imports.get("", node.graph.opset_imports.get("ai.onnx", 1))


def _defined(graph: ir.Graph) -> set[int]:
    """ids of the values a graph (nested bodies included) defines itself."""
    found = {id(v) for v in graph.inputs} | {id(v) for v in graph.initializers.values()}
    for node in graph:
        found |= {id(v) for v in node.outputs}
        for body in graph_attributes(node):
            found |= _defined(body)
    return found


def every_defined(graph: ir.Graph) -> set[int]:
    """ids of the values a body defines (its inputs, its nodes' outputs, nested bodies')."""
    return _defined(graph)


def emit_body_nodes(ctx: EmitContext, node: ir.Node, graph: ir.Graph) -> None:
    """Write the body `graph` of `node` into the context's own subgraph (Scan unrolls it
    there), each of its nodes as the lowering writes one of the main graph."""
    from graphkit.backends.tflite import lowering

    opset = _opset(ctx, node)
    for inner_node in graph:
        lowering.emit_node(ctx, inner_node, opset)


def graph_attributes(node: ir.Node) -> list[ir.Graph]:
    """The graphs a node holds as attributes (If's branches, Loop's body, FlexAttention's
    score_mod)."""
    found = []
    for attribute in node.attributes.values():
        if attribute.type == ir.AttributeType.GRAPH:
            found.append(attribute.value)
        elif attribute.type == ir.AttributeType.GRAPHS:
            found.extend(attribute.value)
    return found


def captured(graphs: list[ir.Graph]) -> list[ir.Value]:
    """The non-constant values the bodies read from outside, in the order first read."""
    seen: dict[int, ir.Value] = {}
    for graph in graphs:
        inside = _defined(graph)
        reads = [v for node in ir.traversal.RecursiveGraphIterator(graph) for v in node.inputs]
        for value in [*reads, *graph.outputs]:
            captured = value is not None and id(value) not in inside
            if captured and const_or_dequantized(value) is None:
                seen.setdefault(id(value), value)
    return list(seen.values())


def _body(ctx: EmitContext, node: ir.Node, graph: ir.Graph, params: list[ir.Value],
          extra: list[ir.Value]) -> tuple[BodyContext, list[int]]:
    """Begin a subgraph whose inputs hold `params` (the body's own inputs) then `extra`
    (captures, given the outer values); emit the body's nodes into it."""
    from graphkit.backends.tflite import lowering

    ctx.builder.begin_subgraph()
    inner = BodyContext(ctx.builder, ctx.values, opset=_opset(ctx, node))
    tensors = []
    for value in [*params, *extra]:
        shape = ctx.shape_or_none(value)
        tensor = ctx.builder.tensor(value.name or "in", ctx.dtype(value), shape)
        inner.stored[id(value)] = Stored(tensor)
        tensors.append(tensor)
    for inner_node in graph:
        lowering.entry_for(inner_node, inner.opset).emit(inner, inner_node)
    return inner, tensors


def _distinct(ctx: EmitContext, tensors: list[int], taken: set[int]) -> list[int]:
    """Each output a tensor of its own, not an input or a constant (copied by RESHAPE)."""
    made = []
    for tensor in tensors:
        held = ctx.builder.tensors[tensor]
        if tensor in taken or held.buffer != 0:
            shape = list(held.shape) if held.hasRank else None
            copy = ctx.builder.tensor(f"{held.name}_out", _np_type(held.type), shape)
            ctx.op("RESHAPE", [tensor, ctx.int32(shape or [])], [copy])
            tensor = copy
        taken.add(tensor)
        made.append(tensor)
    return made


def _np_type(code: int) -> np.dtype:

    return next(dtype for dtype, value in TENSOR_TYPES.items() if value == code)


def check_if(node: ir.Node, values) -> str | None:
    then, other = attr(node, "then_branch"), attr(node, "else_branch")
    if len(then.outputs) != len(node.outputs) or len(other.outputs) != len(node.outputs):
        return "If's branches must give as many outputs as the node has"
    return _check_captures(node, values)


def _check_captures(node: ir.Node, values) -> str | None:
    for value in captured(graph_attributes(node)):
        if values.shape(value) is None:
            return f"{node.op_type}: the rank of '{value.name}', which a body reads, is unknown"
    return None


def emit_if(ctx: EmitContext, node: ir.Node) -> None:
    extra = captured(graph_attributes(node))
    indices = []
    for graph in (attr(node, "then_branch"), attr(node, "else_branch")):
        inner, inputs = _body(ctx, node, graph, [], extra)
        outputs = _distinct(inner, [inner.input(v) for v in graph.outputs], set(inputs))
        indices.append(ctx.builder.end_subgraph(graph.name or "branch", inputs, outputs))
    condition = ctx.input(node.inputs[0])
    outer = [ctx.input(v) for v in extra]
    made = options("IfOptions", thenSubgraphIndex=indices[0], elseSubgraphIndex=indices[1])
    ctx.op("IF", [condition, *outer], [ctx.output(v) for v in node.outputs], made)


def check_loop(node: ir.Node, values) -> str | None:
    body = attr(node, "body")
    carried = len(node.inputs) - 2
    for scan in body.outputs[1 + carried:]:
        if static_shape(values, scan) is None:
            return f"Loop's scan output '{scan.name}' needs a static shape per iteration"
    if len(body.inputs) != carried + 2:
        return "Loop's body must take the iteration number, the condition and each variable"
    for value in node.inputs[:2]:
        if value is not None and (values.shape(value) or [1]) not in ([], [1], ()):
            return "Loop's trip count and condition must hold one value each"
    return _check_captures(node, values)


def emit_loop(ctx: EmitContext, node: ir.Node) -> None:
    body = attr(node, "body")
    extra = captured([body])
    count = len(node.inputs) - 2
    state = [_scalar(ctx, ctx.const(np.asarray(0, np.int64), "iteration"), np.int64),
             _initial(ctx, node.inputs[0], np.asarray(NO_LIMIT, np.int64)),
             _initial(ctx, node.inputs[1], np.asarray(True))]
    state += [ctx.input(v) for v in node.inputs[2:]]
    state += [_placeholder_row(ctx, v) for v in body.outputs[1 + count:]]
    state += [ctx.input(v) for v in extra]
    kinds = [_np_type(ctx.builder.tensors[t].type) for t in state]
    condition = _condition(ctx, node, kinds)
    index = _loop_body(ctx, node, body, extra)
    outputs = [ctx.builder.tensor(f"{node.name or 'loop'}_state", kind, None)
               for kind in kinds]
    for position, value in enumerate(node.outputs[:count]):
        outputs[3 + position] = ctx.output(value)
    made = options("WhileOptions", condSubgraphIndex=condition, bodySubgraphIndex=index)
    ctx.op("WHILE", state, outputs, made)
    for position, value in enumerate(node.outputs[count:]):
        _drop_first_row(ctx, outputs[3 + count + position], value)


def _placeholder_row(ctx: EmitContext, scan: ir.Value) -> int:
    """A scan output's start: one row of zeros, dropped after the loop (WHILE fails to copy
    a loop variable with no elements)."""
    shape = [1, *ctx.shape(scan)]
    start = ctx.temp("scan_start", ctx.dtype(scan), shape)
    ctx.op("FILL", [ctx.int32(shape), ctx.const(np.zeros((), ctx.dtype(scan)))], [start])
    return start


def _drop_first_row(ctx: EmitContext, stacked: int, value: ir.Value) -> None:
    rank = ctx.rank(value)
    every = (1 << rank) - 1
    made = options("StridedSliceOptions", beginMask=every & ~1, endMask=every)
    ctx.op("STRIDED_SLICE", [stacked, ctx.int32([1] + [0] * (rank - 1)),
                             ctx.int32([0] * rank), ctx.int32([1] * rank)],
           [ctx.output(value)], made)


def _scalar(ctx: EmitContext, tensor: int, dtype) -> int:
    """The tensor (one element) as a scalar: loop variables keep their shape."""
    if ctx.builder.tensors[tensor].shape == []:
        return tensor
    out = ctx.temp("scalar", dtype, [])
    ctx.op("RESHAPE", [tensor, ctx.int32([])], [out])
    return out


def _initial(ctx: EmitContext, value: ir.Value | None, default: np.ndarray) -> int:
    if value is None:
        return ctx.const(default, "loop_default")
    return _scalar(ctx, ctx.input(value), default.dtype)


def _condition(ctx: EmitContext, node: ir.Node, kinds: list[np.dtype]) -> int:
    """The WHILE's condition subgraph: iteration < trip count, and the condition."""
    ctx.builder.begin_subgraph()
    inputs = [ctx.builder.tensor("cond_in", kind, None) for kind in kinds]
    below = ctx.temp("below", np.bool_, [])
    ctx.op("LESS", [inputs[0], inputs[1]], [below])
    going = ctx.temp("going", np.bool_, [])
    ctx.op("LOGICAL_AND", [below, inputs[2]], [going])
    return ctx.builder.end_subgraph(f"{node.name or 'loop'}_cond", inputs, [going])


def _loop_body(ctx: EmitContext, node: ir.Node, body: ir.Graph, extra: list[ir.Value]) -> int:
    """The WHILE's body subgraph over (i, M, cond, v..., scans..., captures...)."""
    iteration, cond_in, *carried = body.inputs
    scans = body.outputs[1 + len(carried):]
    # inputs ONNX's body lacks: M, and the scans stacked so far
    limit = ir.Value(name="trip_count", type=ir.TensorType(ir.DataType.INT64),
                     shape=ir.Shape([]))
    stacked = [ir.Value(name=f"graphkit_stacked_{v.name}", type=ir.TensorType(
        ctx.values.dtype(v) or v.dtype), shape=ir.Shape(["rows", *ctx.shape(v)])) for v in scans]
    inner, inputs = _body(ctx, node, body, [iteration, limit, cond_in, *carried, *stacked],
                          extra)
    step = inner.temp("next_iteration", np.int64, [])
    inner.op("ADD", [inputs[0], inner.const(np.asarray(1, np.int64), "one")], [step],
             options("AddOptions"))
    cond_out = _scalar(inner, inner.input(body.outputs[0]), np.bool_)
    results = [inner.input(v) for v in body.outputs[1:1 + len(carried)]]
    first = 3 + len(carried)
    grown = [_append_row(inner, inputs[first + k], scan) for k, scan in enumerate(scans)]
    outputs = [step, inputs[1], cond_out, *results, *grown, *inputs[first + len(scans):]]
    passed = {inputs[1], *inputs[first + len(scans):]}  # passed through: may stay inputs
    taken = set(inputs) - passed
    outputs = [t if t in passed else _distinct(inner, [t], taken)[0] for t in outputs]
    return ctx.builder.end_subgraph(body.name or "loop_body", inputs, outputs)


def _append_row(ctx: EmitContext, stacked: int, scan: ir.Value) -> int:
    """stacked + [this iteration's scan value] on a new first axis."""
    shape = list(ctx.shape(scan))
    row = ctx.temp("scan_row", ctx.dtype(scan), [1, *shape])
    ctx.op("RESHAPE", [ctx.input(scan), ctx.int32([1, *shape])], [row])
    grown = ctx.temp("scan_stacked", ctx.dtype(scan), [1, *shape])
    ctx.op("CONCATENATION", [stacked, row], [grown], options("ConcatenationOptions", axis=0))
    return grown


def entries() -> dict[str, list[Lowering]]:
    return {
        "If": [entry("IF", emit_if, dtypes=ANY_DATA, check=check_if, since=1)],
        "Loop": [entry(("WHILE", "LESS", "LOGICAL_AND", "ADD", "RESHAPE", "CONCATENATION"),
                       emit_loop,
                       dtypes=ANY_DATA, dtype_inputs=(), check=check_loop, since=1)],
    }
