"""ONNX LSTM, GRU and RNN.

LSTM becomes UNIDIRECTIONAL_SEQUENCE_LSTM where it fits (_lstm_builtin.py); everything
else is unrolled over its static time steps into FULLY_CONNECTED, SPLIT, LOGISTIC, TANH,
MUL and ADD, one step after the other, the input's projection done once for all steps.

ONNX layout (layout=0): X [seq, batch, input], W [dirs, gates*H, input], R [dirs,
gates*H, H], B [dirs, 2*gates*H] (W's biases, then R's); Y [seq, dirs, batch, H], Y_h
and Y_c [dirs, batch, H]. layout=1 puts batch first: X, the states, Y and Y_h are held
swapped (a TRANSPOSE where the layouts meet). W, R, B and P may be tensors when unrolled.
Gate order: LSTM i, o, f, c; GRU z, r, h. An initial state that is absent or zeros
(exporters write Expand/ConstantOfShape of 0) is left out of the first step instead of
being built.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering import _lstm_builtin
from graphkit.backends.tflite.lowering._base import (
    MAX_STEPS,
    EmitContext,
    Lowering,
    attr,
    const_or_dequantized,
    entry,
    needed,
)
from graphkit.backends.tflite.lowering._composite import _Chain
from graphkit.backends.tflite.lowering._recurrent_base import (
    DirectionWeights,
    Part,
    directions,
    is_zeros,
    optional_input,
)

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"],
                       "RNN": ["Tanh"]}
ACTIVATIONS = {"Sigmoid": "LOGISTIC", "Tanh": "TANH", "Relu": "RELU"}
SWAP = (1, 0, 2)  # layout=1's X [batch, seq, input] and states [batch, dirs, H], swapped
UNROLLED = ("FULLY_CONNECTED", "UNPACK", "SPLIT", "LOGISTIC", "TANH", "RELU", "MUL", "ADD",
            "SUB", "PACK")


def activations(node: ir.Node, index: int) -> list[str]:
    """Direction `index`'s activations, as builtin names (the defaults when not given)."""
    named = attr(node, "activations", None)
    per = len(DEFAULT_ACTIVATIONS[node.op_type])
    named = list(named) if named else DEFAULT_ACTIVATIONS[node.op_type] * len(directions(node))
    return [ACTIVATIONS[name] for name in named[index * per:(index + 1) * per]]


def check_recurrent(node: ir.Node, values) -> str | None:
    """What both forms need: no clip, no per-batch lengths, activations a builtin has, a
    static input size, the hidden size; the unrolled form a static sequence length."""
    op = node.op_type
    if attr(node, "clip", None) is not None:
        return f"{op}'s clip is not lowered"
    if attr(node, "input_forget", 0):
        return f"{op} with input_forget=1 (coupled gates) is not lowered"
    named = attr(node, "activations", None)
    if named and any(name not in ACTIVATIONS for name in named):
        return f"{op}'s activations must be among {sorted(ACTIVATIONS)}"
    shape = values.shape(node.inputs[0])
    if shape is None or len(shape) != 3 or not isinstance(shape[2], int):
        return f"{op} needs a 3-D input with a static input size"
    if hidden_size(node, values) is None:
        return f"{op} needs hidden_size or R's static shape"
    seq = shape[1] if attr(node, "layout", 0) else shape[0]
    if not _lengths_are_full(node, seq):
        return f"{op}'s sequence_lens must be absent or constant and equal to the sequence length"
    if op == "LSTM" and _lstm_builtin.fits(node, values):
        return None
    if not isinstance(seq, int):
        return f"{op} is unrolled: it needs a static sequence length"
    if seq > MAX_STEPS:
        return f"{op} over {seq} steps: graphkit unrolls at most {MAX_STEPS}"
    return None


def hidden_size(node: ir.Node, values) -> int | None:
    shape = values.shape(node.inputs[2])
    found = attr(node, "hidden_size", None) or (shape[-1] if shape else None)
    return found if isinstance(found, int) else None


def _lengths_are_full(node: ir.Node, seq) -> bool:
    lengths = optional_input(node, 4)
    if lengths is None:
        return True
    array = const_or_dequantized(lengths)
    return array is not None and isinstance(seq, int) and bool(np.all(array == seq))


class _Steps:
    """The builtins of one unrolled direction; `None` for a state is a state of zeros."""

    def __init__(self, ctx: EmitContext, node: ir.Node, index: int, name: str) -> None:
        shape = ctx.shape_or_none(node.inputs[0])
        self.ctx, self.node = ctx, node
        self.seq, self.batch = (shape[1], shape[0]) if attr(node, "layout", 0) else shape[:2]
        self.hidden = hidden_size(node, ctx.values)
        self.weights = DirectionWeights(ctx, node, index, GATES[node.op_type] * self.hidden)
        self.chain = _Chain(ctx, name, [self.batch, self.hidden])

    def project(self, x: int, w: Part, bias: Part | None, units: int) -> list[int]:
        """x @ w.T + bias for every step at once, then one [batch, units] tensor per step."""
        all_steps = self._fully_connected(x, w, bias, [self.seq, self.batch, units])
        steps = [self.ctx.temp("step", np.float32, [self.batch, units])
                 for _ in range(self.seq)]
        self.ctx.op("UNPACK", [all_steps], steps,
                    options("UnpackOptions", num=self.seq, axis=0))
        return steps

    def recur(self, h: int, r: Part, units: int, bias: Part | None = None) -> int:
        """h @ r.T (+ bias)."""
        return self._fully_connected(h, r, bias, [self.batch, units])

    def _fully_connected(self, x: int, w: Part, bias: Part | None, shape: list[int]) -> int:
        out = self.ctx.temp("fc", np.float32, shape)
        tensor = self.weights.tensor
        made = [x, tensor(w), -1 if bias is None else tensor(bias)]
        self.ctx.op("FULLY_CONNECTED", made, [out],
                    options("FullyConnectedOptions", keepNumDims=True))
        return out

    def split(self, tensor: int, parts: int) -> list[int]:
        outs = [self.ctx.temp("gate", np.float32, [self.batch, self.hidden])
                for _ in range(parts)]
        self.ctx.op("SPLIT", [self.ctx.int32(1), tensor], outs,
                    options("SplitOptions", numSplits=parts))
        return outs

    def add(self, a: int, b: int | None, shape: list[int] | None = None) -> int:
        return a if b is None else self.chain.op("ADD", a, b, kind="AddOptions", shape=shape)

    def mul(self, a: int, b: int) -> int:
        return self.chain.op("MUL", a, b, kind="MulOptions")

    def act(self, builtin: str, tensor: int) -> int:
        return self.chain.op(builtin, tensor)

    def peep(self, gate: int, weight: Part | None, cell: int | None) -> int:
        if weight is None or cell is None:
            return gate
        return self.add(gate, self.mul(cell, self.weights.tensor(weight)))


def emit_recurrent(ctx: EmitContext, node: ir.Node) -> None:
    if node.op_type == "LSTM" and _lstm_builtin.fits(node, ctx.values):
        _lstm_builtin.emit(ctx, node)
        return
    x = ctx.input(node.inputs[0], SWAP if attr(node, "layout", 0) else None)
    states = [_initial(ctx, node, 5), _initial(ctx, node, 6)]
    finals: list[list[int]] = [[], []]
    sequences = []
    for index, direction in enumerate(directions(node)):
        name = f"{node.outputs[0].name or node.op_type}_{direction}"
        steps = _Steps(ctx, node, index, name)
        order = range(steps.seq) if direction == "forward" else range(steps.seq - 1, -1, -1)
        start = [None if s is None else s[index] for s in states]
        hs, last = _UNROLL[node.op_type](steps, node, index, x, list(order), start)
        sequences.append(hs)
        for kept, value in zip(finals, last, strict=False):
            kept.append(value)
    _outputs(ctx, node, sequences, finals)


def _initial(ctx: EmitContext, node: ir.Node, index: int) -> list[int] | None:
    """The initial state per direction ([batch, H] each), None when it is zeros."""
    if node.op_type != "LSTM" and index == 6:
        return None
    value = optional_input(node, index)
    if is_zeros(value):
        return None
    perm = SWAP if attr(node, "layout", 0) else None  # [batch, dirs, H] -> [dirs, batch, H]
    shape = ctx._stored_shape(value, perm)
    parts = [ctx.temp("state", np.float32, shape[1:]) for _ in range(shape[0])]
    ctx.op("UNPACK", [ctx.input(value, perm)], parts,
           options("UnpackOptions", num=shape[0], axis=0))
    return parts


def _unroll_lstm(steps: _Steps, node: ir.Node, index: int, x: int, order: list[int],
                 start: list[int | None]) -> tuple[list[int], list[int]]:
    gate, cell_act, out_act = activations(node, index)
    weight, rows = steps.weights, 4 * steps.hidden
    projected = steps.project(x, weight.w(0, rows), weight.bias(0, rows), rows)
    r = weight.r(0, rows)
    pi, po, pf = (weight.peephole(g, steps.hidden) for g in range(3))
    h, c = start
    hs: dict[int, int] = {}
    for t in order:
        pre = steps.add(projected[t], None if h is None else steps.recur(h, r, rows),
                        shape=[steps.batch, rows])
        i_pre, o_pre, f_pre, c_pre = steps.split(pre, 4)
        i = steps.act(gate, steps.peep(i_pre, pi, c))
        candidate = steps.mul(i, steps.act(cell_act, c_pre))
        if c is not None:
            f = steps.act(gate, steps.peep(f_pre, pf, c))
            candidate = steps.add(steps.mul(f, c), candidate)
        c = candidate
        o = steps.act(gate, steps.peep(o_pre, po, c))
        h = hs[t] = steps.mul(o, steps.act(out_act, c))
    return [hs[t] for t in sorted(hs)], [h, c]


def _unroll_gru(steps: _Steps, node: ir.Node, index: int, x: int, order: list[int],
                start: list[int | None]) -> tuple[list[int], list[int]]:
    """z, r = f(x Wzr + h Rzr + b); h~ = g(x Wh + Wbh + (r*h) Rh + Rbh) or, with
    linear_before_reset, g(x Wh + Wbh + r * (h Rh + Rbh)); h' = h~ + z * (h - h~)."""
    gate, cand_act = activations(node, index)
    weight, size = steps.weights, steps.hidden
    before = bool(attr(node, "linear_before_reset", 0))
    zr = steps.project(x, weight.w(0, 2 * size), weight.bias(0, 2 * size), 2 * size)
    xh = steps.project(x, weight.w(2 * size, 3 * size),
                       weight.bias(2 * size, 3 * size, of_r=not before), size)
    r_zr, r_h = weight.r(0, 2 * size), weight.r(2 * size, 3 * size)
    rb_h = weight.bias(2 * size, 3 * size, of_w=False) if before else None
    h = start[0]
    hs: dict[int, int] = {}
    for t in order:
        gates = steps.add(zr[t], None if h is None else steps.recur(h, r_zr, 2 * size),
                          shape=[steps.batch, 2 * size])
        z, r = (steps.act(gate, g) for g in steps.split(gates, 2))
        if before:
            hidden = steps.recur(h, r_h, size, rb_h) if h is not None else \
                None if rb_h is None else weight.tensor(rb_h)
            inner = steps.add(xh[t], None if hidden is None else steps.mul(r, hidden))
        else:
            inner = steps.add(xh[t], None if h is None else
                              steps.recur(steps.mul(r, h), r_h, size))
        candidate = steps.act(cand_act, inner)
        if h is None:  # h' = (1 - z) * h~
            h = steps.chain.op("SUB", candidate, steps.mul(z, candidate), kind="SubOptions")
        else:
            gap = steps.chain.op("SUB", h, candidate, kind="SubOptions")
            h = steps.add(candidate, steps.mul(z, gap))
        hs[t] = h
    return [hs[t] for t in sorted(hs)], [h]


def _unroll_rnn(steps: _Steps, node: ir.Node, index: int, x: int, order: list[int],
                start: list[int | None]) -> tuple[list[int], list[int]]:
    act = activations(node, index)[0]
    weight, size = steps.weights, steps.hidden
    projected = steps.project(x, weight.w(0, size), weight.bias(0, size), size)
    r = weight.r(0, size)
    h = start[0]
    hs: dict[int, int] = {}
    for t in order:
        h = hs[t] = steps.act(act, steps.add(projected[t],
                                             None if h is None else steps.recur(h, r, size)))
    return [hs[t] for t in sorted(hs)], [h]


_UNROLL = {"LSTM": _unroll_lstm, "GRU": _unroll_gru, "RNN": _unroll_rnn}


def _outputs(ctx: EmitContext, node: ir.Node, sequences: list[list[int]],
             finals: list[list[int]]) -> None:
    """Y: each direction's steps packed on time, then the directions on axis 1; Y_h, Y_c:
    the last state of each direction packed on axis 0."""
    batch_first = bool(attr(node, "layout", 0))  # Y [batch, seq, dirs, H], Y_h [batch, dirs, H]
    if needed(node.outputs[0]):
        stacks = []
        for steps in sequences:
            step = ctx.builder.tensors[steps[0]].shape
            stack = ctx.temp("y_dir", np.float32, [len(steps), *step])
            ctx.op("PACK", steps, [stack], options("PackOptions", valuesCount=len(steps), axis=0))
            stacks.append(stack)
        perm = (1, 2, 0, 3) if batch_first else None
        ctx.op("PACK", stacks, [ctx.output(node.outputs[0], perm)],
               options("PackOptions", valuesCount=len(stacks), axis=1))
    for index, last in enumerate(finals):
        out = node.outputs[index + 1] if index + 1 < len(node.outputs) else None
        if not needed(out):
            continue
        ctx.op("PACK", last, [ctx.output(out, SWAP if batch_first else None)],
               options("PackOptions", valuesCount=len(last), axis=0))


def entries() -> dict[str, list[Lowering]]:
    lstm = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2", "FILL", "STRIDED_SLICE", *UNROLLED)
    return {
        "LSTM": [entry(lstm, emit_recurrent, check=check_recurrent, since=7)],
        "GRU": [entry(UNROLLED, emit_recurrent, check=check_recurrent, since=7)],
        "RNN": [entry(UNROLLED, emit_recurrent, check=check_recurrent, since=7)],
    }

