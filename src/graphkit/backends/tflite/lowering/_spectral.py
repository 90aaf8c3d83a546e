"""DFT and STFT as one matrix product by constant cos/sin matrices (static lengths).

DFT over `axis` of x [..., n, ..., c] (c = 1 real, 2 complex):
    TRANSPOSE the axis last and the real/imaginary pair before it -> [..., c, n]
    SLICE to the m samples the transform reads (dft_length truncates; zero padding
    adds nothing to a sum, so it is left out), RESHAPE to [P, c*m]
    FULLY_CONNECTED by W [c*m -> c_out*K] (rows: real parts, then imaginary parts;
    columns: the real part of each output bin, then the imaginary part)
    RESHAPE to [..., c_out, K], TRANSPOSE back.
The forward transform has K = L bins (L//2+1 one-sided), the inverse L samples scaled by
1/L; the inverse of a one-sided spectrum (as numpy's irfft) is real, each bin counted
twice but the first and, for even L, the last. The matrices are computed in float64 from
angles reduced modulo L, and the product runs in float32: within float32 rounding.

STFT: frames gathered by index (frame f, sample j -> f*step + j), times the window, then
the same product along the frame's samples.
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
    known,
    static_shape,
)
from graphkit.backends.tflite.lowering._cumulative import choose_by_axis

MAX_MATRIX = 1 << 22  # entries of one DFT's constant matrix (16 MB of float32)


@dataclass(frozen=True)
class Transform:
    """One DFT along one axis, all of it known when converting."""

    axis: int
    length: int  # L, the dft_length
    samples: int  # m, the input samples (or bins) the transform reads
    bins: int  # K, the output's length along the axis
    parts_in: int  # c: 1 real, 2 complex
    parts_out: int
    inverse: bool
    onesided: bool

    def matrix(self) -> np.ndarray:
        """W [c*m, c_out*K]: output = input @ W, parts stacked as described above."""
        t = np.arange(self.samples)[:, None]
        k = np.arange(self.bins)[None, :]
        turns = (t * k) % self.length
        angle = 2 * np.pi * turns / self.length
        cos, sin = np.cos(angle), np.sin(angle)
        cos[np.isclose(cos, 0, atol=1e-12)] = 0
        sin[np.isclose(sin, 0, atol=1e-12)] = 0
        if not self.inverse:  # (a + ib)(cos - i sin)
            blocks = [[cos, -sin], [sin, cos]]
        elif not self.onesided:  # (a + ib)(cos + i sin) / L
            blocks = [[cos / self.length, sin / self.length],
                      [-sin / self.length, cos / self.length]]
        else:  # the real part of the Hermitian sum, t and k swapped: rows are bins
            weight = np.full((self.samples, 1), 2.0)
            weight[0] = 1
            if self.length % 2 == 0 and self.samples > self.length // 2:
                weight[self.length // 2] = 1
            blocks = [[weight * cos / self.length], [-weight * sin / self.length]]
        rows = [np.concatenate(row[: self.parts_out], axis=1) for row in blocks[: self.parts_in]]
        return np.concatenate(rows, axis=0)


def _dft_axis(node: ir.Node, values, axis_input: bool) -> int | None:
    """The axis: an attribute before opset 20, then input 2 (None: only the run gives it)."""
    if not axis_input:
        return attr(node, "axis", 1)
    if len(node.inputs) < 3 or node.inputs[2] is None:
        return -2
    given = known(node.inputs[2], values)
    return None if given is None else int(np.asarray(given).reshape(-1)[0])


def _transform(node: ir.Node, values, axis: int, shape: tuple[int, ...],
               length: int | None) -> Transform | str:
    """The DFT along `axis` of an input of `shape`, or why it cannot be."""
    axis %= len(shape)
    if axis == len(shape) - 1:
        return "DFT's axis is the real/imaginary one"
    inverse, onesided = bool(attr(node, "inverse", 0)), bool(attr(node, "onesided", 0))
    count = shape[axis]
    if length is None:
        length = 2 * (count - 1) if inverse and onesided else count
    if length < 1:
        return f"DFT of length {length} is not lowered"
    if inverse and onesided:
        return _bounded(Transform(axis, length, min(count, length // 2 + 1), length, shape[-1],
                                  1, True, True))
    bins = length // 2 + 1 if onesided else length
    return _bounded(Transform(axis, length, min(count, length), bins, shape[-1], 2, inverse,
                              onesided))


def _bounded(plan: Transform) -> Transform | str:
    """The plan, or why its matrix is too large to keep in the model."""
    entries = plan.parts_in * plan.samples * plan.parts_out * plan.bins
    if entries > MAX_MATRIX:
        return f"a DFT of length {plan.length} needs a {entries:,}-entry constant matrix; " \
            f"graphkit writes at most {MAX_MATRIX:,}"
    return plan


def _out_shape(shape: tuple[int, ...], plan: Transform) -> tuple[int, ...]:
    found = list(shape)
    found[plan.axis], found[-1] = plan.bins, plan.parts_out
    return tuple(found)


def _dft_plans(node: ir.Node, values, axis_input: bool) -> dict[int, Transform] | str:
    """axis -> its transform: one where the axis is known, else every axis whose result
    has the output's static shape (the run's axis is one of them, or the model's own
    output type is wrong); or why none."""
    shape = static_shape(values, node.inputs[0])
    if shape is None or len(shape) < 2:
        return "DFT needs a static input shape"
    if shape[-1] not in (1, 2):
        return "DFT's last input dim must be 1 (real) or 2 (complex)"
    length = None
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        given = known(node.inputs[1], values)
        if given is None:
            return "DFT's dft_length (input 1) must be a constant"
        length = int(np.asarray(given).reshape(-1)[0])
    axis = _dft_axis(node, values, axis_input)
    if axis is not None:
        plan = _transform(node, values, axis, shape, length)
        return plan if isinstance(plan, str) else {plan.axis: plan}
    out = static_shape(values, node.outputs[0])
    if out is None:
        return "DFT's axis (input 2) must be a constant where the output shape is not static"
    plans = {}
    for candidate in range(len(shape) - 1):
        plan = _transform(node, values, candidate, shape, length)
        if not isinstance(plan, str) and _out_shape(shape, plan) == out:
            plans[candidate] = plan
    return plans or "no DFT axis gives the output's shape"


def check_dft(axis_input: bool):
    def check(node: ir.Node, values) -> str | None:
        plans = _dft_plans(node, values, axis_input)
        return plans if isinstance(plans, str) else None

    return check


def transform(ctx: EmitContext, source: int, shape: tuple[int, ...], plan: Transform,
              out: int) -> None:
    """out = the DFT `plan` of the tensor `source` of `shape` (ONNX order)."""
    rank_ = len(shape)
    others = [d for d in range(rank_ - 1) if d != plan.axis]
    perm = [*others, rank_ - 1, plan.axis]
    moved_shape = [shape[d] for d in perm]
    moved = ctx.temp("dft_in", np.float32, moved_shape)
    ctx.op("TRANSPOSE", [source, ctx.int32(perm)], [moved])
    if plan.samples < shape[plan.axis]:
        moved_shape[-1] = plan.samples
        cut = ctx.temp("dft_cut", np.float32, moved_shape)
        ctx.op("SLICE", [moved, ctx.int32([0] * rank_),
                         ctx.int32([-1] * (rank_ - 1) + [plan.samples])], [cut])
        moved = cut
    rows = int(np.prod([shape[d] for d in others], dtype=np.int64))
    flat = ctx.temp("dft_rows", np.float32, [rows, plan.parts_in * plan.samples])
    ctx.op("RESHAPE", [moved, ctx.int32([rows, plan.parts_in * plan.samples])], [flat])
    width = plan.parts_out * plan.bins
    product = ctx.temp("dft", np.float32, [rows, width])
    weights = np.ascontiguousarray(plan.matrix().T, np.float32)
    ctx.op("FULLY_CONNECTED", [flat, ctx.const(weights, "dft_matrix"), -1], [product],
           options("FullyConnectedOptions", keepNumDims=False))
    parts = [*[shape[d] for d in others], plan.parts_out, plan.bins]
    split = ctx.temp("dft_parts", np.float32, parts)
    ctx.op("RESHAPE", [product, ctx.int32(parts)], [split])
    back = [0] * rank_
    for position, axis in enumerate(perm):
        back[axis] = position
    ctx.op("TRANSPOSE", [split, ctx.int32(back)], [out])


def emit_dft(axis_input: bool):
    return lambda ctx, node: _emit_dft(ctx, node, axis_input)


def _emit_dft(ctx: EmitContext, node: ir.Node, axis_input: bool) -> None:
    plans = _dft_plans(node, ctx.values, axis_input)
    shape = ctx.shape(node.inputs[0])
    source = ctx.input(node.inputs[0])
    out = ctx.output(node.outputs[0])
    if len(plans) == 1:
        transform(ctx, source, shape, next(iter(plans.values())), out)
        return
    out_shape = ctx.shape(node.outputs[0])
    results = {}
    for axis, plan in plans.items():
        results[axis] = ctx.temp(f"dft_axis{axis}", np.float32, list(out_shape))
        transform(ctx, source, shape, plan, results[axis])
    choose_by_axis(ctx, node.inputs[2], len(shape), results, out, (np.float32, out_shape))


@dataclass(frozen=True)
class Frames:
    """An STFT's framing: `count` frames of `width` samples, `step` apart (None: the step
    is an input only the run gives), each transformed by `plan`."""

    count: int
    width: int
    step: int | None
    plan: Transform


def _given_int(node: ir.Node, index: int, values) -> int | None | str:
    """An optional scalar input: its value, None where absent, or why it is not known."""
    if index >= len(node.inputs) or node.inputs[index] is None:
        return None
    given = known(node.inputs[index], values)
    if given is None:
        return f"STFT's input {index} must be a constant"
    return int(np.asarray(given).reshape(-1)[0])


def _frames(node: ir.Node, values) -> Frames | str:
    shape = static_shape(values, node.inputs[0])
    if shape is None or len(shape) != 3 or shape[-1] not in (1, 2):
        return "STFT needs a static signal shape [batch, length, 1 or 2]"
    length = _given_int(node, 3, values)
    if isinstance(length, str):
        return "STFT's frame_length (input 3) must be a constant"
    window = node.inputs[2] if len(node.inputs) > 2 else None
    if window is not None:
        window_shape = static_shape(values, window)
        if window_shape is None or len(window_shape) != 1:
            return "STFT needs a window of static length"
        width = window_shape[0]
    else:
        width = length if length is not None else shape[1]
    length = width if length is None else length
    if width < 1 or length < 1:
        return "STFT's frames must not be empty"
    step = known(node.inputs[1], values)
    onesided = bool(attr(node, "onesided", 1))
    bins = length // 2 + 1 if onesided else length
    plan = _bounded(Transform(2, length, min(width, length), bins, shape[-1], 2, False,
                              onesided))
    if isinstance(plan, str):
        return plan
    if step is not None:
        step = int(np.asarray(step).reshape(-1)[0])
        if step < 1:
            return "STFT's frame_step must be positive"
        frames = Frames(1 + (shape[1] - length) // step, width, step, plan)
    else:
        out = static_shape(values, node.outputs[0])
        if out is None or len(out) != 4:
            return "STFT's frame_step (input 1) must be a constant where the output shape " \
                "is not static"
        if width > length:
            return "STFT with a window wider than frame_length needs a constant frame_step"
        frames = Frames(out[1], width, None, plan)
    if frames.count < 1:
        return "STFT's frame is longer than the signal"
    if frames.step is not None and (frames.count - 1) * frames.step + width > shape[1]:
        return "STFT's last window reaches past the signal (ONNX pads it with zeros)"
    return frames


def check_stft(node: ir.Node, values) -> str | None:
    found = _frames(node, values)
    return found if isinstance(found, str) else None


def _frame_indices(ctx: EmitContext, node: ir.Node, frames: Frames) -> int:
    """[count, width] positions in the signal: f * step + j."""
    starts = np.arange(frames.count, dtype=np.int64)[:, None]
    offsets = np.arange(frames.width, dtype=np.int64)[None, :]
    if frames.step is not None:
        return ctx.const(starts * frames.step + offsets, "frame_indices")
    step = ctx.temp("step", np.int64, [])
    ctx.op("RESHAPE", [ctx.input(node.inputs[1]), ctx.int32([])], [step])
    if ctx.dtype(node.inputs[1]) != np.int64:
        wide = ctx.temp("step64", np.int64, [])
        ctx.op("CAST", [step], [wide])
        step = wide
    begins = ctx.temp("frame_starts", np.int64, [frames.count, 1])
    ctx.op("MUL", [ctx.const(starts, "frames"), step], [begins], options("MulOptions"))
    indices = ctx.temp("frame_indices", np.int64, [frames.count, frames.width])
    ctx.op("ADD", [begins, ctx.const(offsets, "offsets")], [indices], options("AddOptions"))
    return indices


def emit_stft(ctx: EmitContext, node: ir.Node) -> None:
    frames = _frames(node, ctx.values)
    batch, _, parts = ctx.shape(node.inputs[0])
    shape = (batch, frames.count, frames.width, parts)
    framed = ctx.temp("frames", np.float32, list(shape))
    ctx.op("GATHER", [ctx.input(node.inputs[0]), _frame_indices(ctx, node, frames)], [framed],
           options("GatherOptions", axis=1))
    window = node.inputs[2] if len(node.inputs) > 2 else None
    if window is not None:
        column = ctx.temp("window", np.float32, [frames.width, 1])
        ctx.op("RESHAPE", [ctx.input(window), ctx.int32([frames.width, 1])], [column])
        weighted = ctx.temp("windowed", np.float32, list(shape))
        ctx.op("MUL", [framed, column], [weighted], options("MulOptions"))
        framed = weighted
    transform(ctx, framed, shape, frames.plan, ctx.output(node.outputs[0]))


def entries() -> dict[str, list[Lowering]]:
    builtins = ("TRANSPOSE", "SLICE", "RESHAPE", "FULLY_CONNECTED")
    picked = ("FLOOR_MOD", "EQUAL", "SELECT_V2")
    return {
        "DFT": [entry(builtins, emit_dft(False), check=check_dft(False), since=17),
                entry(builtins + picked, emit_dft(True), check=check_dft(True), since=20)],
        "STFT": [entry(("GATHER", "RESHAPE", "CAST", "MUL", "ADD", *builtins), emit_stft,
                       check=check_stft, since=17)],
    }
