"""One axis of a Resize whose scales or sizes arrive at run time: its [m, n] weight matrix,
built in the model (the formulas of onnx's reference op_resize, in float32).

    y          = RANGE(0, m)                    the output positions
    x          = coordinate mode (y, scale)     the source coordinates
    W[y, j]    = kernel(j - x)                  j over the input extended past each edge
    matrix     = W @ clamp[j, i]                a pixel past the edge is the edge pixel

with scale = num / den: the scale itself (den = 1) when scales are given, the ratio
size / input length when sizes are (x = t * den / num, one rounding of the fraction).
The two steps float32 cannot merely round are exact, as onnx's float64 is in practice:
m = floor(scale * n) (Dekker's product gives the rounding error of scale * n), and for
nearest the side of a rounding tie x lands on (the quotient's exact remainder says
whether the exact x is above or below it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext

TINY = float(np.finfo(np.float32).tiny)  # max(ow - 1, TINY): ow - 1 is 0 or >= 2**-23
SPLIT = float(2**12 + 1)  # Veltkamp's constant: float32's 24 bits as two 12-bit halves
MARGIN = 2  # the pixels past each edge a kernel reaches without antialias (cubic's 2)
KINDS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}


@dataclass(frozen=True)
class Spec:
    """What a Resize (or Upsample) node asks, its run-time inputs named by index."""

    mode: str
    coords: str
    rounding: str
    cubic_a: float
    exclude_outside: bool
    extrapolation: float
    antialias: bool
    axes: tuple[int, ...]  # the ONNX axes the scales/sizes/roi entries are for
    policy: str
    given: int  # input index of the scales or the sizes
    sizes: bool  # `given` holds sizes (int64), else scales (float32)
    roi: int | None
    upsample: bool


@dataclass(frozen=True)
class Axis:
    onnx: int  # 2 (H) or 3 (W)
    position: int  # its entry in the scales/sizes (and roi)
    length: int  # the input's length along it


@dataclass(frozen=True)
class Weights:
    matrix: int  # [m, n] float32
    length: int  # [1] int32: m
    outside: int | None  # [m, 1] bool: the positions tf_crop_and_resize extrapolates
    fill: int | None  # the extrapolation value


class _Steps:
    """Builtins on float32 tensors whose shapes LiteRT computes when the call runs."""

    def __init__(self, ctx: EmitContext, name: str) -> None:
        self.ctx, self.name, self.count = ctx, name, 0

    def __call__(self, builtin: str, *inputs: int | float, dtype=np.float32, made=None) -> int:
        self.count += 1
        out = self.ctx.temp(f"{self.name}_{self.count}", dtype, None)
        tensors = [self.c(v) if isinstance(v, float) else v for v in inputs]
        kind = KINDS.get(builtin)
        self.ctx.op(builtin, tensors, [out], made or (options(kind) if kind else None))
        return out

    def c(self, value: float) -> int:
        return self.ctx.const(np.asarray(value, np.float32), f"{self.name}_c")

    def entry(self, tensor: int, index: int, dtype=np.float32) -> int:
        picked = self("GATHER", tensor, self.ctx.const(np.asarray(index, np.int32)),
                      dtype=dtype, made=options("GatherOptions", axis=0))
        return picked if dtype == np.float32 else self("CAST", picked)

    def column(self, tensor: int, dtype=np.float32) -> int:
        return self("RESHAPE", tensor, self.ctx.int32([-1, 1]), dtype=dtype)


def axis_weights(ctx: EmitContext, spec: Spec, axis: Axis, given: int, roi: int | None,
                 lengths: dict[int, int]) -> Weights:
    """`lengths`: the input's length along each ONNX axis the scales/sizes name."""
    f = _Steps(ctx, f"resize_axis{axis.onnx}")
    num, den, wide, m, one_wide = _scale(f, spec, axis, given, lengths)
    y = f("RANGE", f.c(0.0), m, f.c(1.0))
    x, residual, outside = _coordinate(f, spec, axis, y, (num, den, wide, m, one_wide), roi)
    j, clamp, inside = _pixels(f, spec, axis, num, den)
    residual = f.c(0.0) if residual is None else f.column(residual)
    grid = _kernel(f, spec, (f.column(x), residual), j, num, den)
    if spec.exclude_outside:
        grid = f("MUL", grid, inside)
    if spec.exclude_outside or spec.antialias:
        total = f("SUM", grid, ctx.int32([1]), made=options("ReducerOptions", keepDims=True))
        empty = f("EQUAL", total, 0.0, dtype=np.bool_)
        grid = f("DIV", grid, f("SELECT_V2", empty, 1.0, total))
    matrix = f("BATCH_MATMUL", grid, clamp, made=options("BatchMatMulOptions"))
    length = f("RESHAPE", f("CAST", m, dtype=np.int32), ctx.int32([1]), dtype=np.int32)
    if outside is None:
        return Weights(matrix, length, None, None)
    mask = f.column(outside, dtype=np.bool_)
    return Weights(matrix, length, mask, f.c(spec.extrapolation))


def _scale(f: _Steps, spec: Spec, axis: Axis, given: int, lengths: dict[int, int]):
    """(num, den, ow, m, ow == 1): scale = num / den (den None: 1), ow = scale * n
    unrounded, m the output length, each a float32 scalar, and whether ow is exactly 1."""
    n = float(axis.length)
    if not spec.sizes:
        scale = f.entry(given, axis.position)
        wide, below, one = _product(f, scale, n)
        whole = f("FLOOR", wide)  # m = floor(scale * n), one less where wide rounded up to it
        down = f("LOGICAL_AND", f("EQUAL", wide, whole, dtype=np.bool_), below, dtype=np.bool_)
        return scale, None, wide, f("SUB", whole, f("CAST", down)), one
    if spec.policy == "stretch":
        size = f.entry(given, axis.position, np.int64)
        return size, f.c(n), size, size, f("EQUAL", size, 1.0, dtype=np.bool_)
    # keep the aspect ratio: the smallest (not_larger) or largest size / length ratio
    # over the axes, compared as p * q' < p' * q; m = round_half_up(ratio * n)
    num, den = f.entry(given, 0, np.int64), f.c(float(lengths[spec.axes[0]]))
    for index, other in enumerate(spec.axes[1:], start=1):
        size, length = f.entry(given, index, np.int64), f.c(float(lengths[other]))
        compare = "LESS" if spec.policy == "not_larger" else "GREATER"
        better = f(compare, f("MUL", size, den), f("MUL", num, length), dtype=np.bool_)
        num = f("SELECT_V2", better, size, num)
        den = f("SELECT_V2", better, length, den)
    spread = f("MUL", num, n)  # exact: integers below 2**24
    wide = f("DIV", spread, den)
    return (num, den, wide, f("FLOOR", f("ADD", wide, 0.5)),
            f("EQUAL", spread, den, dtype=np.bool_))


def _split(f: _Steps, value: int) -> tuple[int, int]:
    """Veltkamp: value = high + low exactly, each with at most 12 significant bits."""
    spread = f("MUL", value, SPLIT)
    high = f("SUB", spread, f("SUB", spread, value))
    return high, f("SUB", value, high)


def _product_error(f: _Steps, a: tuple[int, int], b: tuple[int, int], p: int) -> int:
    """Dekker: a * b - p exactly, for p = fl(a * b) and a, b given as their _split halves."""
    (ah, al), (bh, bl) = a, b
    error = f("ADD", f("SUB", f("MUL", ah, bh), p), f("MUL", ah, bl))
    return f("ADD", f("ADD", error, f("MUL", al, bh)), f("MUL", al, bl))


def _product(f: _Steps, scale: int, n: float):
    """(p, below, exact_one) for scale * n, n an integer below 2**12: p the float32
    product, below whether the exact product is less than p, exact_one whether it is 1
    (onnx's reference takes the floor of the exact product, in float64)."""
    p = f("MUL", scale, n)
    error = _product_error(f, _split(f, scale), (f.c(n), f.c(0.0)), p)
    below = f("LESS", error, 0.0, dtype=np.bool_)
    one = f("LOGICAL_AND", f("EQUAL", p, 1.0, dtype=np.bool_),
            f("EQUAL", error, 0.0, dtype=np.bool_), dtype=np.bool_)
    return p, below, one


def _quotient(f: _Steps, a: int, scale: int) -> tuple[int, int]:
    """(q, r): q = fl(a / scale) and r = a - q * scale, exact (a correctly rounded
    quotient's remainder is a float), so r's sign says on which side of q the exact
    quotient lies: where q lands on a rounding tie, r decides it as float64 would."""
    q = f("DIV", a, scale)
    p = f("MUL", q, scale)
    error = _product_error(f, _split(f, q), _split(f, scale), p)
    return q, f("SUB", f("SUB", a, p), error)  # a - p is exact (Sterbenz)


def _coordinate(f: _Steps, spec: Spec, axis: Axis, y: int, scale, roi: int | None):
    """(x, residual, outside): the source coordinate of each output position; for nearest
    the sign of the exact coordinate minus x, which decides a rounding tie x lands on
    (_nearest; None: linear and cubic weights are continuous in x); for
    tf_crop_and_resize the positions whose x leaves [0, n - 1]."""
    num, den, wide, m, one_wide = scale
    n = float(axis.length)
    coords = spec.coords
    nearest = spec.mode == "nearest"

    def unscaled(t: int) -> tuple[int, int | None]:  # t / scale = t * den / num
        t = t if den is None else f("MUL", t, den)  # exact: integers and halves below 2**24
        return _quotient(f, t, num) if nearest else (f("DIV", t, num), None)

    if coords == "asymmetric":
        return (*unscaled(y), None)
    if coords == "align_corners":  # ow == 1: m is 1 and y * (n - 1) is 0
        spread, gap = f("MUL", y, n - 1), f("MAXIMUM", f("SUB", wide, 1.0), TINY)
        if nearest:  # sizes given (_resize_dynamic): ow - 1 = m - 1, exact
            return (*_quotient(f, spread, gap), None)
        return f("DIV", spread, gap), None, None
    if coords == "tf_crop_and_resize":
        return _cropped(f, axis, y, wide, one_wide, roi, len(spec.axes))
    half, residual = unscaled(f("ADD", y, 0.5))
    if coords == "half_pixel_symmetric":  # for nearest, sizes given: the offset is 0
        offset = f("MUL", f("SUB", 1.0, f("DIV", m, wide)), n / 2)
        return f("SUB", f("ADD", offset, half), 0.5), residual, None
    x = f("SUB", half, 0.5)
    if coords == "pytorch_half_pixel":
        x = f("SELECT_V2", one_wide, -0.5, x)
        if residual is not None:
            residual = f("SELECT_V2", one_wide, 0.0, residual)
    return x, residual, None


def _cropped(f: _Steps, axis: Axis, y: int, wide: int, one_wide: int, roi: int | None,
             count: int):
    n = float(axis.length)
    start = f.entry(roi, axis.position)
    span = f("SUB", f.entry(roi, axis.position + count), start)
    spread = f("DIV", f("MUL", f("MUL", y, span), n - 1),
               f("MAXIMUM", f("SUB", wide, 1.0), TINY))
    middle = f("DIV", f("MUL", span, n - 1), 2.0)
    x = f("ADD", f("SELECT_V2", one_wide, middle, spread), f("MUL", start, n - 1))
    below = f("LESS", x, 0.0, dtype=np.bool_)
    above = f("GREATER", x, n - 1, dtype=np.bool_)
    return x, None, f("LOGICAL_OR", below, above, dtype=np.bool_)


def _pixels(f: _Steps, spec: Spec, axis: Axis, num: int, den: int | None):
    """(j [1, L], clamp [L, n], inside [1, L]): the pixels a kernel can reach, the matrix
    taking each to its pixel in the image, and which are in it. Antialias widens the
    kernel by 1/scale when shrinking, so its range is computed in the model."""
    n = axis.length
    if not spec.antialias:
        j = np.arange(-MARGIN, n + MARGIN, dtype=np.float32)
        clamp = np.eye(n, dtype=np.float32)[np.clip(j, 0, n - 1).astype(np.int64)]
        return (f.ctx.const(j[None, :], "resize_pixels"), f.ctx.const(clamp, "resize_clamp"),
                f.ctx.const(((j >= 0) & (j < n)).astype(np.float32)[None, :], "resize_inside"))
    reach = f("CEIL", f("DIV", 2.0 if spec.mode == "cubic" else 1.0, _shrink(f, num, den)))
    line = f("RANGE", f("SUB", -1.0, reach), f("ADD", reach, float(n + 1)), f.c(1.0))
    kept = f("MINIMUM", f("MAXIMUM", line, 0.0), float(n - 1))
    index = f("CAST", kept, dtype=np.int32)
    clamp = f("ONE_HOT", index, f.ctx.int32(n), 1.0, 0.0,
              made=options("OneHotOptions", axis=-1))
    inside = f("CAST", f("EQUAL", line, kept, dtype=np.bool_))
    row = f.ctx.int32([1, -1])
    return f("RESHAPE", line, row), clamp, f("RESHAPE", inside, row)


def _nearest(f: _Steps, rounding: str, x: int, residual: int) -> int:
    """The pixel nearest_mode picks: floor(x), plus one where the fraction passes the
    mode's tie (0.5, or 0 for ceil); at the tie itself the exact x's side decides."""
    floor = f("FLOOR", x)
    fraction = f("SUB", x, floor)
    if rounding == "floor":  # x rounded up onto a whole number from below it
        down = f("LOGICAL_AND", f("EQUAL", fraction, 0.0, dtype=np.bool_),
                 f("LESS", residual, 0.0, dtype=np.bool_), dtype=np.bool_)
        return f("SUB", floor, f("CAST", down))
    tie = 0.0 if rounding == "ceil" else 0.5
    side = "GREATER_EQUAL" if rounding == "round_prefer_ceil" else "GREATER"
    at_tie = f("LOGICAL_AND", f("EQUAL", fraction, tie, dtype=np.bool_),
               f(side, residual, 0.0, dtype=np.bool_), dtype=np.bool_)
    up = f("LOGICAL_OR", f("GREATER", fraction, tie, dtype=np.bool_), at_tie, dtype=np.bool_)
    return f("ADD", floor, f("CAST", up))


def _shrink(f: _Steps, num: int, den: int | None) -> int:
    """min(scale, 1): antialias's factor on the kernel's argument."""
    return f("MINIMUM", num if den is None else f("DIV", num, den), 1.0)


def _kernel(f: _Steps, spec: Spec, x, j: int, num: int, den: int | None) -> int:
    """[m, L]: the weight of pixel j at each output position (x: ([m, 1], its residual))."""
    x, residual = x
    if spec.mode == "nearest":
        return f("CAST", f("EQUAL", j, _nearest(f, spec.rounding, x, residual), dtype=np.bool_))
    distance = f("ABS", f("SUB", j, x))
    if spec.antialias:
        distance = f("MUL", distance, _shrink(f, num, den))
    if spec.mode == "linear":
        return f("MAXIMUM", f("SUB", 1.0, distance), 0.0)
    a = spec.cubic_a
    # Keys' cubic: ((A+2)d - (A+3)) d^2 + 1 for d <= 1, ((A d - 5A) d + 8A) d - 4A below 2
    near = f("ADD", f("MUL", f("MUL", f("SUB", f("MUL", distance, a + 2), a + 3), distance),
                      distance), 1.0)
    far = f("SUB", f("MUL", f("ADD", f("MUL", f("SUB", f("MUL", distance, a), 5 * a), distance),
                              8 * a), distance), 4 * a)
    outer = f("SELECT_V2", f("LESS", distance, 2.0, dtype=np.bool_), far, 0.0)
    return f("SELECT_V2", f("LESS_EQUAL", distance, 1.0, dtype=np.bool_), near, outer)
