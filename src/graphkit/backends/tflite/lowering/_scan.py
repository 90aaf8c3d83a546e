"""ONNX Scan, unrolled: its body written once per iteration, in the graph around it.

    Scan(s..., x...) with body (s..., x_t...) -> (s'..., y_t...)
    step t: x_t = GATHER(x, t along its scan axis) (T-1-t where that input runs reversed);
            the body's nodes, reading s (the initial states, then the last step's s')
    after:  final states = the last step's s'; y = CONCATENATION of EXPAND_DIMS(y_t) along
            its output axis (in reverse order where that output runs reversed)

The scan length must be known when converting, and at most MAX_STEPS: each step is a copy
of the body, and a Scan inside the body is refused (unrolled inside an unrolled body, the
copies would multiply). Opset 8's Scan has a batch axis (0) before the scan axis (1) on
every input and output; each batch row is scanned on its own, and its sequence_lens is not
lowered (the full length of every row is what a missing sequence_lens means).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import (
    ANY_DATA,
    MAX_STEPS,
    EmitContext,
    Lowering,
    Stored,
    attr,
    entry,
    static_shape,
)
from graphkit.backends.tflite.lowering._control import _np_type, emit_body_nodes, every_defined


def _layout(node: ir.Node, opset: int) -> tuple[int, int]:
    """(the inputs before the states: opset 8's sequence_lens, the number of states)."""
    skip = 1 if opset < 9 else 0
    scans = attr(node, "num_scan_inputs")
    return skip, len(node.inputs) - skip - scans


def _axes(node: ir.Node, name: str, count: int, ranks: list[int | None]) -> list[int]:
    given = list(attr(node, name, None) or [0] * count)
    return [a + r if a < 0 and r is not None else a for a, r in zip(given, ranks)]


def _directions(node: ir.Node, name: str, count: int) -> list[int]:
    return list(attr(node, name, None) or [0] * count)


def check_scan(node: ir.Node, values, opset: int) -> str | None:
    skip, states = _layout(node, opset)
    scans = node.inputs[skip + states:]
    if skip and node.inputs[0] is not None:
        return "Scan (opset 8): sequence_lens is not lowered; leave it out (every row scanned " \
            "to the full length)"
    shapes = [static_shape(values, v) for v in scans]
    if any(shape is None for shape in shapes):
        return "Scan needs static shapes of its scan inputs (the scan length is unrolled)"
    axes = [1] * len(scans) if skip else _axes(node, "scan_input_axes", len(scans),
                                                [len(s) for s in shapes])
    lengths = {shape[axis] for shape, axis in zip(shapes, axes)}
    if len(lengths) != 1:
        return "Scan's scan inputs must have the same length along their scan axes"
    length = lengths.pop()
    rows = shapes[0][0] if skip else 1
    if length * rows > MAX_STEPS:
        return f"Scan runs {length * rows} steps; graphkit unrolls at most {MAX_STEPS}"
    if length == 0 or rows == 0:
        return "Scan over zero steps is not lowered"
    if any(inner.op_type == "Scan" for inner in
           ir.traversal.RecursiveGraphIterator(attr(node, "body"))):
        return "a Scan inside a Scan's body is not lowered: both unrolled, the copies of the " \
            "inner body would multiply"
    return None


def emit_scan(ctx: EmitContext, node: ir.Node, opset: int) -> None:
    skip, count = _layout(node, opset)
    body = attr(node, "body")
    states = [ctx.input(v) for v in node.inputs[skip:skip + count]]
    scans = [ctx.input(v) for v in node.inputs[skip + count:]]
    if skip:
        _emit_batched(ctx, node, body, states, scans, count)
        return
    ranks = [ctx.rank(v) for v in node.inputs[skip + count:]]
    in_axes = _axes(node, "scan_input_axes", len(scans), ranks)
    out_ranks = [ctx.rank(v) for v in node.outputs[count:]]
    out_axes = _axes(node, "scan_output_axes", len(out_ranks), out_ranks)
    length = ctx.shape(node.inputs[skip + count])[in_axes[0]]
    final, rows = _unroll(ctx, node, body, states, scans, in_axes,
                          _directions(node, "scan_input_directions", len(scans)), length)
    for value, tensor in zip(node.outputs[:count], final):
        _write_copy(ctx, tensor, value)
    out_dirs = _directions(node, "scan_output_directions", len(out_axes))
    for k, value in enumerate(node.outputs[count:]):
        steps = rows[k][::-1] if out_dirs[k] else rows[k]
        _stack(ctx, steps, out_axes[k], ctx.output(value), ctx.dtype(value))


def _emit_batched(ctx: EmitContext, node: ir.Node, body: ir.Graph, states: list[int],
                  scans: list[int], count: int) -> None:
    """Opset 8: each batch row (axis 0) scanned on its own along axis 1, then stacked."""
    shape = ctx.shape(node.inputs[1 + count])
    batch, length = shape[0], shape[1]
    directions = _directions(node, "directions", len(scans))
    finals: list[list[int]] = [[] for _ in states]
    outputs: list[list[int]] = [[] for _ in node.outputs[count:]]
    for b in range(batch):
        row_states = [_take(ctx, t, b, 0, f"state_row{b}") for t in states]
        row_scans = [_take(ctx, t, b, 0, f"scan_row{b}") for t in scans]
        final, rows = _unroll(ctx, node, body, row_states, row_scans, [0] * len(scans), directions,
                              length)
        for k, tensor in enumerate(final):
            finals[k].append(tensor)
        for k, steps in enumerate(rows):
            stacked = ctx.temp("scan_out_row", _np(ctx, steps[0]), None)
            _stack(ctx, steps, 0, stacked, _np(ctx, steps[0]))
            outputs[k].append(stacked)
    for value, rows_of in zip(node.outputs, [*finals, *outputs]):
        _stack(ctx, rows_of, 0, ctx.output(value), ctx.dtype(value))


def _unroll(ctx: EmitContext, scan_node: ir.Node, body: ir.Graph, states: list[int],
            scans: list[int], axes: list[int], directions: list[int],
            length: int) -> tuple[list[int], list[list[int]]]:
    """Write the body `length` times: (the final states, each scan output's step tensors)."""
    count = len(states)
    inside = every_defined(body)
    rows: list[list[int]] = [[] for _ in body.outputs[count:]]
    for step in range(length):
        # the body's values are new tensors each step: forget last step's transposes
        ctx.transposed = {k: t for k, t in ctx.transposed.items() if k[0] not in inside}
        for value, tensor in zip(body.inputs[:count], states):
            ctx.stored[id(value)] = Stored(tensor)
        for value, tensor, axis, backward in zip(body.inputs[count:], scans, axes, directions):
            index = length - 1 - step if backward else step
            ctx.stored[id(value)] = Stored(_take(ctx, tensor, index, axis, value.name))
        emit_body_nodes(ctx, scan_node, body)
        states = [ctx.input(v) for v in body.outputs[:count]]
        for k, value in enumerate(body.outputs[count:]):
            rows[k].append(ctx.input(value))
    return states, rows


def _take(ctx: EmitContext, tensor: int, index: int, axis: int, name: str) -> int:
    """tensor[..., index, ...] at `axis`, that axis removed (GATHER of a scalar index)."""
    out = ctx.temp(name or "scan_slice", _np(ctx, tensor), None)
    ctx.op("GATHER", [tensor, ctx.int32(index)], [out], options("GatherOptions", axis=axis))
    return out


def _stack(ctx: EmitContext, tensors: list[int], axis: int, out: int, dtype) -> None:
    """out = the tensors stacked on a new axis (EXPAND_DIMS each, one CONCATENATION)."""
    grown = []
    for tensor in tensors:
        one = ctx.temp("scan_step", dtype, None)
        ctx.op("EXPAND_DIMS", [tensor, ctx.int32(axis)], [one])
        grown.append(one)
    ctx.op("CONCATENATION", grown, [out], options("ConcatenationOptions", axis=axis))


def _write_copy(ctx: EmitContext, tensor: int, value: ir.Value) -> None:
    """The node's output `value` is a copy of `tensor` (a body may pass a state through
    unchanged, and a graph output must be a tensor of its own)."""
    shape = static_shape(ctx.values, value)
    if shape is None:
        shape_tensor = ctx.temp("state_shape", np.int32, None)
        ctx.op("SHAPE", [tensor], [shape_tensor], options("ShapeOptions", outType=2))
    else:
        shape_tensor = ctx.int32(shape)
    ctx.op("RESHAPE", [tensor, shape_tensor], [ctx.output(value)])


def _np(ctx: EmitContext, tensor: int) -> np.dtype:
    return _np_type(ctx.builder.tensors[tensor].type)


def entries() -> dict[str, list[Lowering]]:
    builtins = ("GATHER", "EXPAND_DIMS", "CONCATENATION", "RESHAPE", "SHAPE")
    return {"Scan": [
        entry(builtins, partial(emit_scan, opset=since), dtypes=ANY_DATA, dtype_inputs=(),
              check=partial(check_scan, opset=since), since=since)
        for since in (8, 9)
    ]}
