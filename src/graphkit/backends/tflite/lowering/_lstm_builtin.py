"""ONNX LSTM as UNIDIRECTIONAL_SEQUENCE_LSTM, one per direction (the reverse one between
two REVERSE_V2 on the time axis), where the builtin computes the same thing.

The builtin's 24 inputs: 0 the input (time major here), 1-4 the input weights and 5-8 the
recurrent weights in TFLite's gate order i, f, c, o (ONNX's is i, o, f, c), 9-11 the
peepholes (i, f, o), 12-15 the biases, 16-17 a projection (unused), 18-19 the output and
cell states, 20-23 layer-norm weights (unused); -1 marks an absent one.

The states are variable tensors: the kernel leaves the last state in them, so a second
call of the interpreter would start where the first ended. ONNX's LSTM starts from its
initial state on every call, so an op writes it into the state tensors before the LSTM
runs, on every invoke (FILL with zeros, or UNPACK of initial_h/initial_c).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options, schema
from graphkit.backends.tflite.lowering._base import EmitContext, attr, const_or_dequantized, needed
from graphkit.backends.tflite.lowering._recurrent_base import (
    Weights,
    directions,
    is_zeros,
    optional_input,
    weights,
)

ONNX_TO_TFLITE_GATES = (0, 2, 3, 1)  # TFLite's i, f, c, o as ONNX's gate indices
DEFAULT = ["Sigmoid", "Tanh", "Tanh"]


def fits(node: ir.Node, values) -> bool:
    """Whether the builtin computes this LSTM (check_recurrent's conditions hold)."""
    named = attr(node, "activations", None)
    if named and any(name != default for name, default in
                     zip(named, DEFAULT * 2, strict=False)):
        return False
    if len(node.outputs) > 2 and needed(node.outputs[2]):
        return False  # the final cell state stays inside the builtin
    given = [optional_input(node, i) for i in (1, 2, 3, 7)]
    if attr(node, "layout", 0) or any(
            value is not None and const_or_dequantized(value) is None for value in given):
        return False  # weights the builtin takes are constants
    shape = values.shape(node.inputs[0])
    if shape is None or len(shape) != 3 or not isinstance(shape[2], int):
        return False
    # a dynamic batch: the state tensors are filled to the batch read at run time, which
    # only zeros as initial states allow
    return isinstance(shape[1], int) or all(
        is_zeros(optional_input(node, index)) for index in (5, 6))


def emit(ctx: EmitContext, node: ir.Node) -> None:
    x = ctx.input(node.inputs[0])
    seq, batch, depth = ctx.shape_or_none(node.inputs[0])
    hidden = const_or_dequantized(node.inputs[2]).shape[-1]
    count = len(directions(node))
    states = [[_state(ctx, f"{kind}_{d}", [batch, hidden]) for d in range(count)]
              for kind in ("h", "c")]
    state_shape = ctx.int32([batch, hidden]) if isinstance(
        ctx.values.shape(node.inputs[0])[1], int) else _batch_by(ctx, x, hidden)
    for index, kind in ((5, 0), (6, 1)):
        _reset(ctx, optional_input(node, index), states[kind], state_shape)
    outputs, lasts = [], []
    for index, direction in enumerate(directions(node)):
        reverse = direction == "reverse"
        source = _reversed(ctx, x, [seq, batch, depth]) if reverse else x
        raw = ctx.temp("lstm_y", np.float32, [seq, batch, hidden])
        inputs = [source, *_weight_inputs(ctx, weights(node, index)),
                  states[0][index], states[1][index], -1, -1, -1, -1]
        ctx.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [raw],
               options("UnidirectionalSequenceLSTMOptions", timeMajor=True,
                       fusedActivationFunction=schema().ActivationFunctionType.TANH))
        lasts.append(_last_step(ctx, raw, [batch, hidden]))
        outputs.append(_reversed(ctx, raw, [seq, batch, hidden]) if reverse else raw)
    if needed(node.outputs[0]):
        ctx.op("PACK", outputs, [ctx.output(node.outputs[0])],
               options("PackOptions", valuesCount=count, axis=1))
    if len(node.outputs) > 1 and needed(node.outputs[1]):
        ctx.op("PACK", lasts, [ctx.output(node.outputs[1])],
               options("PackOptions", valuesCount=count, axis=0))


def _weight_inputs(ctx: EmitContext, weight: Weights) -> list[int]:
    """Inputs 1-17: weights, recurrent weights, peepholes, biases, no projection."""
    w = np.split(weight.w, 4)
    r = np.split(weight.r, 4)
    b = np.split(weight.wb + weight.rb, 4)
    made = [ctx.const(np.ascontiguousarray(w[g]), "lstm_w") for g in ONNX_TO_TFLITE_GATES]
    made += [ctx.const(np.ascontiguousarray(r[g]), "lstm_r") for g in ONNX_TO_TFLITE_GATES]
    if weight.peephole is None:
        made += [-1, -1, -1]
    else:
        pi, po, pf = np.split(weight.peephole, 3)
        made += [ctx.const(p, "lstm_p") for p in (pi, pf, po)]
    made += [ctx.const(b[g], "lstm_b") for g in ONNX_TO_TFLITE_GATES]
    return [*made, -1, -1]


def _state(ctx: EmitContext, name: str, shape: list[int]) -> int:
    tensor = ctx.temp(f"lstm_state_{name}", np.float32, shape)
    ctx.builder.tensors[tensor].isVariable = True
    return tensor


def _batch_by(ctx: EmitContext, x: int, hidden: int) -> int:
    """[batch, hidden] as an int32 tensor, the batch read off the time-major input when the
    model runs."""
    shape = ctx.temp("lstm_x_shape", np.int32, [3])
    ctx.op("SHAPE", [x], [shape], options("ShapeOptions", outType=2))
    batch = ctx.temp("lstm_batch", np.int32, [1])
    ctx.op("STRIDED_SLICE", [shape, ctx.int32([1]), ctx.int32([2]), ctx.int32([1])], [batch],
           options("StridedSliceOptions"))
    state = ctx.temp("lstm_state_shape", np.int32, [2])
    ctx.op("CONCATENATION", [batch, ctx.int32([hidden])], [state],
           options("ConcatenationOptions", axis=0))
    return state


def _reset(ctx: EmitContext, initial: ir.Value | None, tensors: list[int],
           shape: int) -> None:
    """Write the initial state into the variable tensors, before every run of the LSTM.
    `shape`: the int32 tensor of their [batch, hidden]."""
    if is_zeros(initial):
        zero = ctx.const(np.asarray(0.0, np.float32), "zero")
        for tensor in tensors:
            ctx.op("FILL", [shape, zero], [tensor])
        return
    ctx.op("UNPACK", [ctx.input(initial)], tensors,
           options("UnpackOptions", num=len(tensors), axis=0))


def _reversed(ctx: EmitContext, tensor: int, shape: list[int]) -> int:
    out = ctx.temp("reversed", np.float32, shape)
    ctx.op("REVERSE_V2", [tensor, ctx.int32([0])], [out])
    return out


def _last_step(ctx: EmitContext, tensor: int, shape: list[int]) -> int:
    """tensor[-1] of a [seq, batch, hidden] tensor: the state after the last step."""
    out = ctx.temp("lstm_h", np.float32, shape)
    ctx.op("STRIDED_SLICE", [tensor, ctx.int32([-1, 0, 0]), ctx.int32([0, 0, 0]),
                             ctx.int32([1, 1, 1])], [out],
           options("StridedSliceOptions", beginMask=0b110, endMask=0b111, shrinkAxisMask=0b001))
    return out
