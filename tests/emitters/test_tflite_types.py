"""The TFLite lowering on element types and empty tensors: values without elements,
reductions of nothing, float64 where LiteRT's kernels run it, integer division. Each
emitted .tflite runs in LiteRT on real inputs and is compared with ONNX Runtime (or onnx's
reference evaluator where ORT has no kernel), and diagnose --target tflite says the same
as the emitter."""

from __future__ import annotations

import numpy as np
import pytest
from _tflite_checks import emitted_matches, refused

# Empty tensors ------------------------------------------------------------------------

EMPTY_REDUCE = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,0,4] x, int64[1] axes) => (float{out} y) {{
    y = {op}<keepdims={keep}>(x, axes)
}}"""


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin",
                                "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"])
@pytest.mark.parametrize(("axes", "keep", "out"), [([1], 1, "[2,1,4]"), ([1], 0, "[2,4]")])
def test_reduction_of_nothing_is_its_identity(tmp_path, op, axes, keep, out):
    """Every output element reduces an empty set (0, 1, -inf, +inf, ...), whichever axes
    the run gives: written as a constant."""
    text = EMPTY_REDUCE.format(op=op, keep=keep, out=out)
    feeds = {"x": np.zeros((2, 0, 4), np.float32), "axes": np.asarray(axes, np.int64)}
    emitted_matches(tmp_path, text, feeds, exact=True)


EMPTY_SUM_RUN_TIME = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,0,4] x, int64[1] axes) => (float[a,b,c] y) {
    magnitude = Abs(x)
    y = ReduceSum<keepdims=1>(magnitude, axes)
}"""


def test_sum_of_nothing_with_an_unknown_output_shape_runs_in_the_kernel(tmp_path):
    """The output's shape waits for the run's axes, so nothing folds: LiteRT's SUM of an
    empty set is 0, as ONNX's is."""
    feeds = {"x": np.zeros((2, 0, 4), np.float32), "axes": np.asarray([1], np.int64)}
    ops = emitted_matches(tmp_path, EMPTY_SUM_RUN_TIME, feeds, exact=True).metadata["builtins"]
    assert "SUM" in ops


def test_max_of_nothing_with_an_unknown_output_shape_is_refused():
    """REDUCE_MAX of nothing gives the lowest finite float, ONNX -inf."""
    text = EMPTY_SUM_RUN_TIME.replace("ReduceSum", "ReduceMax")
    refused(text, "'magnitude' has no elements")


EMPTY_OUTPUTS = """<ir_version: 9, opset_import: ["" : 18]>
g (float[3,4] x, float[3,0,5] z) => (float[0,4] sliced, int64[0] dims, float[3,0,5] upper,
                                      float[3,0,5] doubled, float[3,4] kept) {
    starts = Constant<value = int64[1] {5}>()
    ends = Constant<value = int64[1] {9}>()
    axis = Constant<value = int64[1] {0}>()
    sliced = Slice(x, starts, ends, axis)
    dims = Shape<start=2, end=1>(x)
    upper = Trilu<upper=1>(z)
    doubled = Add(z, z)
    kept = Relu(x)
}"""


def test_outputs_without_elements(tmp_path, rng):
    """Outputs whose static shape has no elements: known when converting, and written
    from a one-element constant (LiteRT refuses a constant of no bytes)."""
    feeds = {"x": rng.standard_normal((3, 4)).astype(np.float32),
             "z": np.zeros((3, 0, 5), np.float32)}
    ops = emitted_matches(tmp_path, EMPTY_OUTPUTS, feeds, exact=True).metadata["builtins"]
    assert set(ops) == {"BROADCAST_TO", "RELU"}


# float64: cast and rearranged, never computed ----------------------------------------

DOUBLES = """<ir_version: 9, opset_import: ["" : 18]>
g (double[2,3] x, float[6] f, float16[6] h, int64[6] i, double[6] k) => (float[3,2] narrowed,
        double[1,6] widened, double[6] from_half, double[6] from_int, int32[6] truncated) {
    t = Transpose<perm=[1,0]>(x)
    narrowed = Cast<to=1>(t)
    axes = Constant<value = int64[1] {0}>()
    w = Cast<to=11>(f)
    widened = Unsqueeze(w, axes)
    from_half = CastLike(h, x)
    from_int = Cast<to=11>(i)
    truncated = Cast<to=6>(k)
}"""


def test_float64_is_cast_and_rearranged_exactly(tmp_path, rng):
    """CAST converts to and from float64 as a C++ static_cast does (rounded to nearest,
    toward zero to integers), TRANSPOSE and EXPAND_DIMS move its bytes: every bit as ORT's.
    (A double outside int32's range has no defined int32: LiteRT saturates it.)"""
    scale = np.exp(rng.uniform(-80, 80, (2, 3)))  # float32's whole range, and subnormals
    feeds = {"x": rng.standard_normal((2, 3)) * scale,
             "f": rng.standard_normal(6).astype(np.float32),
             "h": rng.standard_normal(6).astype(np.float16),
             "i": rng.integers(-2**62, 2**62, 6, dtype=np.int64),
             "k": rng.uniform(-2**31, 2**31 - 1, 6)}
    feeds["x"][0, :] = [1e-300, -3.5e38, 2.5]  # underflow to zero, overflow to -inf
    emitted_matches(tmp_path, DOUBLES, feeds, exact=True)


def test_float64_to_float16_is_refused():
    """LiteRT's CAST rounds float64 to float16 through float32: 1 + 2**-11 + 2**-40 lands
    on the float16 midpoint 1 + 2**-11, which rounds to even, 1; the nearest is 1 + 2**-10."""
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (double[4] x) => (float16[4] y) { y = Cast<to=10>(x) }"""
    refused(text, "rounds double to float16 through float32")


def test_float64_arithmetic_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (double[4] x) => (double[4] y) { y = Add(x, x) }"""
    refused(text, "takes no double")


# Integer division and both remainders ------------------------------------------------

BINARY = """<ir_version: 9, opset_import: ["" : 18]>
g ({t}[3,4] a, {t}[4] b) => ({t}[3,4] y) {{ y = {op}(a, b) }}"""


def _onnx_name(dtype) -> str:
    return {"float32": "float", "float64": "double"}.get(np.dtype(dtype).name,
                                                          np.dtype(dtype).name)


def _signed_pairs(rng, dtype: np.dtype) -> dict[str, np.ndarray]:
    """Dividends over the type's range (both signs where it has them), divisors of both
    signs, none zero: every pair of signs meets in the first row."""
    info = np.iinfo(dtype)
    low, high = max(int(info.min) + 1, -2**40), min(int(info.max), 2**40)  # min / -1 overflows
    a = rng.integers(low, high, (3, 4), dtype=dtype, endpoint=True)
    if info.min == 0:
        return {"a": a, "b": rng.integers(1, min(high, 1000), 4, dtype=dtype, endpoint=True)}
    a[0, :] = [7, -7, 7, -7]
    return {"a": a, "b": np.asarray([3, 7, -3, -100], dtype)}


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint16])
def test_integer_div_truncates_toward_zero(tmp_path, rng, dtype):
    """DIV on int32 truncates, as ONNX's integer Div does; the small types run in int32."""
    text = BINARY.format(t=_onnx_name(dtype), op="Div")
    emitted_matches(tmp_path, text, _signed_pairs(rng, np.dtype(dtype)), exact=True)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.uint16, np.uint32])
@pytest.mark.parametrize("fmod", [0, 1])
def test_integer_mod_takes_the_sign_fmod_asks_for(tmp_path, rng, dtype, fmod):
    text = BINARY.format(t=_onnx_name(dtype), op=f"Mod<fmod={fmod}>")
    emitted_matches(tmp_path, text, _signed_pairs(rng, np.dtype(dtype)), exact=True)


def _float_pairs(rng, dtype) -> dict[str, np.ndarray]:
    a = (rng.standard_normal((3, 4)) * np.exp(rng.uniform(-8, 8, (3, 4)))).astype(dtype)
    b = (rng.standard_normal(4) * 3).astype(dtype)
    a[0, :] = [1e-4, -1e-4, 5.5, -5.5]  # far smaller than the divisor: fmod keeps it
    b[:2] = [-1.0, 1.0]
    a[1, :] = [np.inf, -3.0, 0.0, 60000.0]
    return {"a": a, "b": b}


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_float_fmod_is_cs_fmod(tmp_path, rng, dtype):
    """fmod=1: FLOOR_MOD of the magnitudes (std::fmod), given the dividend's sign;
    1e-4 fmod -1 stays 1e-4, where the floor mod's 1e-4 - 1 would have rounded."""
    text = BINARY.format(t=_onnx_name(dtype), op="Mod<fmod=1>")
    emitted_matches(tmp_path, text, _float_pairs(rng, dtype), exact=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_float_mod_without_fmod_is_numpys(tmp_path, rng, dtype):
    """fmod=0 on floats (which ONNX Runtime refuses): numpy's mod, the reference's, which
    FLOOR_MOD computes with the same steps."""
    text = BINARY.format(t=_onnx_name(dtype), op="Mod<fmod=0>")
    emitted_matches(tmp_path, text, _float_pairs(rng, dtype), evaluator=True, exact=True)


# bool extremes, float16 classification ----------------------------------------------

@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_bool_max_and_min_are_any_and_all(tmp_path, rng, op):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (bool[3,4] x) => (bool[3,1] y) {{
        axes = Constant<value = int64[1] {{1}}>()
        y = {op}<keepdims=1>(x, axes)
    }}"""
    x = rng.random((3, 4)) < 0.5
    x[0, :], x[1, :] = True, False
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True, exact=True)  # ORT has no bool kernel


@pytest.mark.parametrize("op", ["IsInf", "IsNaN", "IsInf<detect_negative=0>"])
def test_float16_is_classified_in_float32(tmp_path, rng, op):
    """float16's infinities and NaNs stay what they are in float32."""
    text = f"""<ir_version: 9, opset_import: ["" : 20]>
    g (float16[6] x) => (bool[6] y) {{ y = {op}(x) }}"""
    x = np.asarray([np.inf, -np.inf, np.nan, 65504, -0.0, 1.5], np.float16)
    emitted_matches(tmp_path, text, {"x": x}, exact=True)
