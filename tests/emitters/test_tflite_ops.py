"""The TFLite lowering, op family by op family: each emitted .tflite runs in LiteRT on real
inputs and is compared with ONNX Runtime (or onnx's reference evaluator where ORT has no
kernel), and diagnose --target tflite says the same as the emitter."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from _tflite_checks import emitted, emitted_matches, refused, run_matches
from conftest import model_from_text

from graphkit.backends.tflite.emitter import emit

# Reductions ---------------------------------------------------------------------------

REDUCE = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,3,4] x, int64[{n}] axes) => (float{out} y) {{
    y = {op}<keepdims={keep}>(x, axes)
}}"""


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceL2",
                                "ReduceLogSumExp", "ReduceSumSquare"])
@pytest.mark.parametrize(("axes", "keep", "out"), [
    ([1], 1, "[2,1,4]"), ([-1, 0], 0, "[3]"), ([2, 0, 1], 1, "[1,1,1]")])
def test_reduction_with_axes_given_at_run_time(tmp_path, rng, op, axes, keep, out):
    text = REDUCE.format(n=len(axes), op=op, keep=keep, out=out)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "axes": np.asarray(axes, np.int64)})


@pytest.mark.parametrize(("noop", "out"), [(0, "[1,1,1]"), (1, "[2,3,4]")])
def test_reduction_by_run_time_axes_known_empty(tmp_path, rng, noop, out):
    """An axes input of length 0 is known empty when converting: all axes, or none."""
    text = REDUCE.format(n=0, op="ReduceSum", keep=1, out=out).replace(
        "keepdims=1", f"keepdims=1, noop_with_empty_axes={noop}")
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "axes": np.zeros(0, np.int64)})


# Values known when converting ---------------------------------------------------------

SHAPE_ARITHMETIC = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,6,4] x) => (float[2,3,8] y) {
    s = Shape(x)
    two = Constant<value = int64[1] {2}>()
    half = Div(s, two)
    i1 = Constant<value = int64[1] {1}>()
    heads = Gather<axis=0>(half, i1)
    i0 = Constant<value = int64[1] {0}>()
    batch = Slice(s, i0, i1)
    minus = Constant<value = int64[1] {-1}>()
    target = Concat<axis=0>(batch, heads, minus)
    y = Reshape(x, target)
}"""


def test_shape_arithmetic_is_computed_when_converting(tmp_path, rng):
    """Integer Div (no int64 builtin) on a static shape folds: only the RESHAPE is left."""
    model = model_from_text(SHAPE_ARITHMETIC)
    artifact = emit(model, tmp_path / "m.tflite")
    assert set(artifact.metadata["builtins"]) == {"RESHAPE"}
    x = rng.standard_normal((2, 6, 4)).astype(np.float32)
    emitted_matches(tmp_path, SHAPE_ARITHMETIC, {"x": x})


CONSTANT_ONLY = """<ir_version: 9, opset_import: ["" : 18]>
g (int32[3] x) => (int32[3] y) {
    a = Constant<value = uint8[3] {1, 2, 3}>()
    b = Constant<value = uint8[3] {4, 1, 0}>()
    c = BitShift<direction="LEFT">(a, b)
    d = Cast<to=6>(c)
    y = Add(x, d)
}"""


def test_constant_only_subgraph_of_an_op_without_builtin_folds(tmp_path):
    """A left BitShift (no builtin) and a uint8 Cast of constants become one constant."""
    x = np.asarray([7, 8, 9], np.int32)
    emitted_matches(tmp_path, CONSTANT_ONLY, {"x": x})


def test_a_run_time_value_does_not_fold(tmp_path):
    """The same op on a graph input stays a node, and is judged as one."""
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (int64[3] a, int64[3] b) => (int64[3] y) { y = Div(a, b) }"""
    refused(text, "Div takes no int64")


# Ops ONNX defines as functions ---------------------------------------------------------

ATTENTION = """<ir_version: 10, opset_import: ["" : 23]>
g (float[2,3,4,8] q, float[2,3,6,8] k, float[2,3,6,8] v) => (float[2,3,4,8] y) {
    y = Attention<is_causal=1>(q, k, v)
}"""

LAYER_NORM_STATS = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,5,6] x, float[6] scale, float[6] bias) => (float[2,5,6] y, float[2,5,1] mean,
                                                      float[2,5,1] inv) {
    y, mean, inv = LayerNormalization<axis=-1, epsilon=0.001>(x, scale, bias)
}"""


def test_attention_is_lowered_as_its_function_body(tmp_path, rng):
    feeds = {"q": rng.standard_normal((2, 3, 4, 8)).astype(np.float32),
             "k": rng.standard_normal((2, 3, 6, 8)).astype(np.float32),
             "v": rng.standard_normal((2, 3, 6, 8)).astype(np.float32)}
    emitted_matches(tmp_path, ATTENTION, feeds, evaluator=True)


def test_layer_norm_statistics_come_from_the_function_body(tmp_path, rng):
    """The LAYER_NORM-style entry declines the mean and inverse deviation outputs; the
    body computes all three."""
    feeds = {"x": rng.standard_normal((2, 5, 6)).astype(np.float32),
             "scale": rng.standard_normal(6).astype(np.float32),
             "bias": rng.standard_normal(6).astype(np.float32)}
    emitted_matches(tmp_path, LAYER_NORM_STATS, feeds)


def test_a_body_with_a_node_that_does_not_lower_is_refused(tmp_path):
    """MaxRoiPool has no body and no builtin: diagnose and the emitter both refuse it."""
    text = """<ir_version: 9, opset_import: ["" : 20]>
    g (float[1,1,4,4] x, float[2,5] rois) => (float[2,1,2,2] y) {
        y = MaxRoiPool<pooled_shape=[2,2]>(x, rois)
    }"""
    refused(text, "MaxRoiPool")


LOSS = """<ir_version: 9, opset_import: ["" : 18]>
g (float[3,5] x, int64[3] t) => (float y) {
    y = SoftmaxCrossEntropyLoss<reduction="mean">(x, t)
}"""


def test_shapes_after_a_folded_reshape_are_inferred_again(tmp_path, rng):
    """The loss's body reshapes by Shape(x): inference cannot follow it, the folded
    value can, and the GatherElements after it needs those static shapes."""
    feeds = {"x": rng.standard_normal((3, 5)).astype(np.float32),
             "t": np.asarray([0, 4, 2], np.int64)}
    emitted_matches(tmp_path, LOSS, feeds, evaluator=True)


# Ops over one axis ---------------------------------------------------------------------

@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("keep", [0, 1])
def test_arg_extreme_selects_the_last_index(tmp_path, op, keep):
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g (float[2,5] x) => (int64{'[2,1]' if keep else '[2]'} y) {{
        y = {op}<axis=1, keepdims={keep}, select_last_index=1>(x)
    }}"""
    x = np.asarray([[1, 3, 3, 0, 3], [2, 2, 0, 0, 1]], np.float32)  # ties on both rows
    emitted_matches(tmp_path, text, {"x": x})


def test_hardmax_and_lp_normalization(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[3,4,5] x) => (float[3,4,5] h, float[3,4,5] l1, float[3,4,5] l2) {
        h = Hardmax<axis=1>(x)
        l1 = LpNormalization<axis=0, p=1>(x)
        l2 = LpNormalization<axis=-1, p=2>(x)
    }"""
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x[:, :, 0] = 0.0  # a zero norm along the last axis: ONNX gives 0 there
    # ONNX Runtime: onnx's reference evaluator sums x, not |x|, for p = 1
    emitted_matches(tmp_path, text, {"x": x})


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-7, -1, 0, 2, 40])
def test_trilu_with_k_given_at_run_time(tmp_path, rng, upper, k):
    text = f"""<ir_version: 9, opset_import: ["" : 14]>
    g (float[2,3,5] x, int64 k) => (float[2,3,5] y) {{ y = Trilu<upper={upper}>(x, k) }}"""
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "k": np.asarray(k, np.int64)})


def test_pad_value_given_at_run_time_and_dropout_mask(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[2,3] x, float v) => (float[4,6] y, float[2,3] z, bool[2,3] mask) {
        pads = Constant<value = int64[4] {1, 2, 1, 1}>()
        y = Pad<mode="constant">(x, pads, v)
        z, mask = Dropout(x)
    }"""
    x = rng.standard_normal((2, 3)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x, "v": np.asarray(2.5, np.float32)})


# Opsets before 9 -----------------------------------------------------------------------

def test_opset_7_op_unchanged_since_is_lowered_and_a_changed_one_is_not(tmp_path, rng):
    same = """<ir_version: 3, opset_import: ["" : 7]>
    g (bool[3,4] a, bool[4] b) => (bool[3,4] y) { y = Xor(a, b) }"""
    feeds = {"a": rng.random((3, 4)) > 0.5, "b": rng.random(4) > 0.5}
    emitted_matches(tmp_path, same, feeds)
    # BatchNormalization-7 has the spatial attribute that opset 9 dropped
    changed = """<ir_version: 3, opset_import: ["" : 7]>
    g (float[1,2,3] x, float[2] s, float[2] b, float[2] m, float[2] v) => (float[1,2,3] y) {
        y = BatchNormalization(x, s, b, m, v)
    }"""
    refused(changed, "redefined BatchNormalization at opset 9")


# Convolutions ----------------------------------------------------------------------------

CONV1D = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,4,11] x) => (float[2,{o},{n}] y) {{
    y = Conv<{attrs}>(x, w)
}}"""


@pytest.mark.parametrize(("o", "i", "n", "attrs"), [
    (6, 4, 11, "pads=[1, 1]"),
    (6, 4, 6, "pads=[2, 1], strides=[2], dilations=[1]"),
    (6, 4, 7, "dilations=[2]"),
    (4, 1, 11, "group=4, auto_pad=\"SAME_UPPER\""),  # depthwise
    (6, 2, 9, "group=2"),
])
def test_conv1d(tmp_path, rng, o, i, n, attrs):
    weights = rng.standard_normal((o, i, 3)).astype(np.float32)
    values = ", ".join(f"{v:.6f}" for v in weights.reshape(-1))
    text = CONV1D.format(o=o, n=n, attrs=attrs).replace(
        "    y = Conv", f"    w = Constant<value = float[{o},{i},3] {{{values}}}>()\n    y = Conv")
    emitted_matches(tmp_path, text, {"x": rng.standard_normal((2, 4, 11)).astype(np.float32)})


@pytest.mark.parametrize(("p", "attrs", "out"), [
    (2, "kernel_shape=[3, 3]", "[1,3,5,5]"),
    (1, "kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 1, 1]", "[1,3,4,4]"),
    (3, "kernel_shape=[3, 3], auto_pad=\"SAME_UPPER\"", "[1,3,7,7]"),
])
def test_lp_pool(tmp_path, rng, p, attrs, out):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,3,7,7] x) => (float{out} y) {{ y = LpPool<p={p}, {attrs}>(x) }}"""
    x = rng.standard_normal((1, 3, 7, 7)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x})


# Empty parts ---------------------------------------------------------------------------

def test_split_leaves_an_empty_part_out_and_concat_skips_it(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[2,6] x) => (float[2,6] y, float[2,2] b) {
        sizes = Constant<value = int64[3] {4, 0, 2}>()
        a, e, b = Split<axis=1>(x, sizes)
        r = Relu(a)
        y = Concat<axis=1>(e, r, b)
    }"""
    emitted_matches(tmp_path, text, {"x": rng.standard_normal((2, 6)).astype(np.float32)})


def test_split_by_sizes_given_at_run_time_reads_the_output_shapes(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[2,6] x, int64[2] sizes) => (float[2,5] a, float[2,1] b) {
        a, b = Split<axis=1>(x, sizes)
    }"""
    feeds = {"x": rng.standard_normal((2, 6)).astype(np.float32),
             "sizes": np.asarray([5, 1], np.int64)}
    emitted_matches(tmp_path, text, feeds)


def test_rotary_embedding_is_lowered_as_its_body(tmp_path, rng):
    """The body splits off an empty unrotated part and reshapes by computed shapes."""
    text = """<ir_version: 10, opset_import: ["" : 23]>
    g (float[2,4,3,8] x, float[50,4] cos, float[50,4] sin, int64[2,3] pos) => (float[2,4,3,8] y) {
        y = RotaryEmbedding(x, cos, sin, pos)
    }"""
    feeds = {"x": rng.standard_normal((2, 4, 3, 8)).astype(np.float32),
             "cos": rng.standard_normal((50, 4)).astype(np.float32),
             "sin": rng.standard_normal((50, 4)).astype(np.float32),
             "pos": rng.integers(0, 50, (2, 3)).astype(np.int64)}
    emitted_matches(tmp_path, text, feeds, evaluator=True)


# Scatter -------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_nd_and_elements(tmp_path, rng, reduction):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[4,3] data, int64[2,1] rows, float[2,3] new, int64[2,2] cols, float[2,2] upd)
      => (float[4,3] nd, float[4,3] el) {{
        nd = ScatterND<reduction="{reduction}">(data, rows, new)
        el = ScatterElements<axis=1, reduction="{reduction}">(data, cols, upd)
    }}"""
    feeds = {"data": rng.standard_normal((4, 3)).astype(np.float32),
             "rows": np.asarray([[3], [-4]], np.int64),  # -4 is row 0
             "new": rng.standard_normal((2, 3)).astype(np.float32),
             "cols": np.asarray([[2, 0], [-1, 1]], np.int64),
             "upd": rng.standard_normal((2, 2)).astype(np.float32)}
    emitted_matches(tmp_path, text, feeds, evaluator=True)


@pytest.mark.parametrize("dtype", ["float", "int32"])
@pytest.mark.parametrize("reduction", ["mul", "max", "min"])
def test_scatter_reductions_combine_duplicate_indices(tmp_path, rng, reduction, dtype):
    """Row 1 is written three times (once as -3) and column 0 of row 0 twice: each write
    combines with what the earlier ones left, as ONNX defines, not summed first."""
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g ({dtype}[3,4] data, int64[4,1] rows, {dtype}[4,4] new, int64[2,3] cols, {dtype}[2,3] upd)
      => ({dtype}[3,4] nd, {dtype}[3,4] el) {{
        nd = ScatterND<reduction="{reduction}">(data, rows, new)
        el = ScatterElements<axis=1, reduction="{reduction}">(data, cols, upd)
    }}"""
    numpy_type = np.float32 if dtype == "float" else np.int32

    def values(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 4).astype(numpy_type)

    feeds = {"data": values(3, 4), "rows": np.asarray([[1], [0], [-2], [1]], np.int64),
             "new": values(4, 4), "cols": np.asarray([[0, 0, 3], [-1, 2, 1]], np.int64),
             "upd": values(2, 3)}
    emitted_matches(tmp_path, text, feeds, evaluator=True)


def test_scatter_reduction_past_the_unroll_bound_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[2000] data, int64[1025,1] at, float[1025] new) => (float[2000] y) {
        y = ScatterND<reduction="max">(data, at, new)
    }"""
    refused(text, "writes its 1025 update rows one at a time")


@pytest.mark.parametrize(("dtype", "start", "limit", "delta"), [
    ("float", 1.5, 7.0, 0.75), ("int32", 10, -3, -4)])
def test_range_at_opset_27(tmp_path, dtype, start, limit, delta):
    """Opset 27 only added float16/bfloat16 (and their stash_type): other types lower as
    before, the bounds given at run time."""
    text = f"""<ir_version: 11, opset_import: ["" : 27]>
    g ({dtype} a, {dtype} b, {dtype} d) => ({dtype}[N] y) {{ y = Range(a, b, d) }}"""
    numpy_type = np.float32 if dtype == "float" else np.int32
    feeds = {"a": np.asarray(start, numpy_type), "b": np.asarray(limit, numpy_type),
             "d": np.asarray(delta, numpy_type)}
    emitted_matches(tmp_path, text, feeds, evaluator=True)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3)])
def test_batch_norm_with_statistics_given_at_run_time(tmp_path, rng, shape):
    """Scale, bias, mean and variance as graph inputs: factor and offset computed in the
    model, per channel (axis 1), on [N, C] and on images (there after a Conv, so that the
    image is held NHWC and the channel axis is the last)."""
    dims = ",".join(map(str, shape))
    before = "c = Conv<kernel_shape = [1, 1]>(x, w)" if len(shape) == 4 else "c = Identity(x)"
    text = f"""<ir_version: 9, opset_import: ["" : 15]>
    g (float[{dims}] x, float[3] s, float[3] b, float[3] m, float[3] v) => (float[{dims}] y)
    <float[3,3,1,1] w = {{1, 0.5, 0, 0, 1, 0, -1, 0, 2}}> {{
        {before}
        y = BatchNormalization<epsilon = 0.01>(c, s, b, m, v)
    }}"""
    feeds = {"x": rng.standard_normal(shape).astype(np.float32),
             "s": rng.standard_normal(3).astype(np.float32),
             "b": rng.standard_normal(3).astype(np.float32),
             "m": rng.standard_normal(3).astype(np.float32),
             "v": rng.random(3).astype(np.float32) + 0.1}
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 3, 6)])
def test_batch_norm_in_training_mode_uses_the_batch_statistics(tmp_path, rng, shape):
    """The batch's mean and (uncorrected) variance per channel normalize x, and the running
    statistics move towards them by the momentum; the 4-D case after a Conv, held NHWC."""
    dims = ",".join(map(str, shape))
    before = "c = Conv<kernel_shape = [1, 1]>(x, w)" if len(shape) == 4 else "c = Identity(x)"
    text = f"""<ir_version: 9, opset_import: ["" : 15]>
    g (float[{dims}] x, float[3] s, float[3] b, float[3] m, float[3] v)
      => (float[{dims}] y, float[3] rm, float[3] rv)
    <float[3,3,1,1] w = {{1, 0.5, 0, 0, 1, 0, -1, 0, 2}}> {{
        {before}
        y, rm, rv = BatchNormalization<training_mode = 1, momentum = 0.7>(c, s, b, m, v)
    }}"""
    feeds = {"x": (rng.standard_normal(shape) * 3 + 1).astype(np.float32),
             "s": rng.standard_normal(3).astype(np.float32),
             "b": rng.standard_normal(3).astype(np.float32),
             "m": rng.standard_normal(3).astype(np.float32),
             "v": rng.random(3).astype(np.float32) + 0.1}
    emitted_matches(tmp_path, text, feeds, evaluator=True, rtol=1e-4, atol=1e-4)


# Slice by values given at run time -------------------------------------------------------

@pytest.mark.parametrize(("starts", "ends", "axes", "steps", "out"), [
    ([0, 1], [3, 4], [0, 1], [1, 1], "[3,3,5]"),
    ([-1, 2**40], [-2**40, -5], [-2, 0], [-1, -1], "[4,5,5]"),  # clamps both ways
    ([1], [2**63 - 1], [2], [2], "[4,5,2]"),
])
def test_slice_by_values_given_at_run_time(tmp_path, rng, starts, ends, axes, steps, out):
    n = len(starts)
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[4,5,5] x, int64[{n}] s, int64[{n}] e, int64[{n}] a, int64[{n}] t)
      => (float{out} y) {{ y = Slice(x, s, e, a, t) }}"""
    feeds = {"x": rng.standard_normal((4, 5, 5)).astype(np.float32),
             "s": np.asarray(starts, np.int64), "e": np.asarray(ends, np.int64),
             "a": np.asarray(axes, np.int64), "t": np.asarray(steps, np.int64)}
    emitted_matches(tmp_path, text, feeds)


def test_unsqueeze_and_squeeze_by_axes_given_at_run_time(tmp_path, rng):
    """The static output shapes are what the axes decide: a RESHAPE to them."""
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[3,1,4] x, int64[2] a, int64[1] b) => (float[3,1,1,4,1] u, float[3,4] s) {
        u = Unsqueeze(x, a)
        s = Squeeze(x, b)
    }"""
    feeds = {"x": rng.standard_normal((3, 1, 4)).astype(np.float32),
             "a": np.asarray([-1, 1], np.int64), "b": np.asarray([-2], np.int64)}
    emitted_matches(tmp_path, text, feeds)


# Narrow types computed in a wider one (_widen) ------------------------------------------

WIDENED = """<ir_version: 9, opset_import: ["" : 18]>
g ({t}[2,3,4] x, {t}[2,3,4] z) => ({t}[2,3,4] y, bool[2,3,4] c) {{
    s = Add(x, z)
    y = Mul(s, x)
    c = Less(x, z)
}}"""


@pytest.mark.parametrize("dtype", ["float16", "uint8", "int8", "int16", "uint16", "uint32"])
def test_narrow_types_are_computed_wide_and_cast_back(tmp_path, rng, dtype):
    """Sums and products that overflow the narrow type wrap as ONNX's do (uint8 200 + 100
    is 44), and float16 results round back to float16."""
    numpy_type = np.dtype(dtype)
    if numpy_type.kind == "f":
        x, z = (rng.standard_normal((2, 3, 4)).astype(numpy_type) for _ in range(2))
    else:
        info = np.iinfo(numpy_type)
        low, high = max(info.min, -(2**20)), min(info.max, 2**20)
        x, z = (rng.integers(low, high, (2, 3, 4), endpoint=True).astype(numpy_type)
                for _ in range(2))
    text = WIDENED.format(t=dtype)
    emitted_matches(tmp_path, text, {"x": x, "z": z}, evaluator=True)


def test_float16_softmax_and_transpose(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float16[2,3,5] x) => (float16[5,3,2] y) {
        s = Softmax<axis=-1>(x)
        y = Transpose<perm=[2,1,0]>(s)
    }"""
    x = rng.standard_normal((2, 3, 5)).astype(np.float16)
    emitted_matches(tmp_path, text, {"x": x}, rtol=1e-7, atol=1e-3, compare_as=np.float32)


@pytest.mark.parametrize(("source", "to"), [("float16", "float"), ("float", "float16"),
                                            ("uint16", "int32"), ("int32", "uint32")])
def test_cast_to_and_from_float16_and_unsigned_types(tmp_path, rng, source, to):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g ({source}[3,4] x) => ({to}[3,4] y) {{
        y = Cast<to={dict(float=1, float16=10, uint16=4, int32=6, uint32=12)[to]}>(x)
    }}"""
    numpy_type = np.dtype(np.float32 if source == "float" else source)
    if numpy_type.kind == "f":
        x = (rng.standard_normal((3, 4)) * 100).astype(numpy_type)
    else:
        x = rng.integers(0, 60000, (3, 4)).astype(numpy_type)
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "int8", "int32"])
def test_bit_shift_wraps_and_fills_out_of_range_amounts(tmp_path, rng, direction, dtype):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g ({dtype}[3,4] x, {dtype}[4] y) => ({dtype}[3,4] z) {{
        z = BitShift<direction="{direction}">(x, y)
    }}"""
    width = np.dtype(dtype).itemsize * 8
    x = rng.integers(0, 2**width, (3, 4)).astype(dtype)
    y = np.asarray([0, 3, width - 1, width + 2], dtype)  # the last: a shift past the width
    emitted_matches(tmp_path, text, {"x": x, "y": y}, evaluator=True)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize(("size", "attrs", "out"), [
    (7, "kernel_shape=[3,3], strides=[2,2]", 3),
    (6, "kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1]", 4),
    (5, "kernel_shape=[2,2], strides=[2,2]", 3)])
def test_pool_ceil_mode_pads_the_last_window(tmp_path, rng, op, size, attrs, out):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[1,2,{size},{size}] x) => (float[1,2,{out},{out}] y) {{
        y = {op}<{attrs}, ceil_mode=1>(x)
    }}"""
    x = rng.standard_normal((1, 2, size, size)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x})


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize(("attrs", "out"), [
    ("kernel_shape=[3]", 7),
    ("kernel_shape=[3], strides=[2], pads=[1, 2]", 5),
    ("kernel_shape=[2], strides=[2], ceil_mode=1", 5),
    ("kernel_shape=[3], pads=[1, 1], count_include_pad=1", 9),
    ('kernel_shape=[4], strides=[3], auto_pad="SAME_LOWER"', 3)])
def test_pool_1d_as_2d_on_height_1(tmp_path, rng, op, attrs, out):
    """[N, C, L] pooled as [N, 1, L, C] (as a 1-D Conv is), with a dynamic batch."""
    if op == "MaxPool":  # an AveragePool attribute only
        attrs = attrs.replace(", count_include_pad=1", "")
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[N,4,9] x) => (float[N,4,{out}] y) {{ y = {op}<{attrs}>(x) }}"""
    for batch in (1, 3):
        x = rng.standard_normal((batch, 4, 9)).astype(np.float32)
        emitted_matches(tmp_path, text, {"x": x})


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool<p = 3>", "LpPool<p = 1>"])
@pytest.mark.parametrize(("x", "attrs"), [
    ("[2,3,6,7,5]", "kernel_shape=[2,3,2]"),
    ("[1,2,9,9,7]", "kernel_shape=[3,2,2], strides=[2,2,3], dilations=[2,1,2], ceil_mode=1,"
     " pads=[1,0,1,1,1,0]"),
    ("[1,2,7,7]", "kernel_shape=[3,3], dilations=[2,2], pads=[1,2,2,1]"),
    ("[1,2,6,6]", "kernel_shape=[3,3], strides=[3,3], pads=[1,1,1,1], ceil_mode=1,"
     " count_include_pad=1"),
    ("[2,3,11]", "kernel_shape=[3], dilations=[3], strides=[2]")])
def test_pool_tap_by_tap_where_the_builtin_cannot(tmp_path, rng, op, x, attrs):
    """3-D images, dilations, ceil-mode windows counting the padding (and LpPool's 1-D
    ones): one STRIDED_SLICE per tap of the window, combined; the 2-D image after a Conv is
    held NHWC. The output's shape is ONNX's shape inference's."""
    if op != "AveragePool":  # an AveragePool attribute only
        attrs = attrs.replace(", count_include_pad=1", "")
    if op.startswith("LpPool"):  # p is an attribute too
        op, attrs = "LpPool", f"{op[op.index('<') + 1:-1]}, {attrs}"
    shape = [int(d) for d in x.strip("[]").split(",")]
    before = "c = Conv<kernel_shape = [1, 1]>(x, w)" if len(shape) == 4 else "c = Identity(x)"
    text = f"""<ir_version: 9, opset_import: ["" : 19]>
    g (float{x} x) => (float{{out}} y) <float[2,2,1,1] w = {{{{1, 0.5, -1, 2}}}}> {{{{
        {before}
        y = {op}<{attrs}>(c)
    }}}}"""
    unshaped = onnx.parser.parse_model(text.format(out=""))
    unshaped.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(unshaped, strict_mode=True)
    dims = [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    text = text.format(out=str(dims).replace(" ", ""))
    emitted_matches(tmp_path, text, {"x": rng.standard_normal(shape).astype(np.float32)})


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("attrs", ["kernel_shape=[2,2], strides=[2,2]",
                                   "kernel_shape=[3,3], pads=[1,0,2,1]"])
def test_max_pool_of_8_bit_integers_by_the_builtin(tmp_path, rng, dtype, attrs):
    """A QOperator model's MaxPool runs on the integers; padding is the type's lowest."""
    text = f"""<ir_version: 9, opset_import: ["" : 19]>
    g ({dtype}[1,3,6,6] x) => ({dtype}{{out}} y) {{{{ y = MaxPool<{attrs}>(x) }}}}"""
    out = "[1,3,3,3]" if "strides" in attrs else "[1,3,7,5]"
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, (1, 3, 6, 6)).astype(dtype)
    emitted_matches(tmp_path, text.format(out=out), {"x": x}, exact=True)


def test_a_declared_pool_shape_against_onnx_pooling_rule_is_refused():
    """ONNX's shape inference keeps a ceil_mode window that starts in the end padding;
    ONNX Runtime and onnx's reference drop it. The emitter does not pick one silently."""
    text = """<ir_version: 9, opset_import: ["" : 19]>
    g (float[1,2,9,8,7] x) => (float[1,2,4,5,3] y) {
        y = MaxPool<kernel_shape=[3,2,2], strides=[2,2,3], dilations=[2,1,2], ceil_mode=1,
                    pads=[1,0,1,1,1,0]>(x)
    }"""
    refused(text, r"output has spatial dims \[4, 5, 3\], ONNX's pooling rule gives \[4, 4, 3\]")


def test_pool_with_too_many_taps_a_window_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 19]>
    g (float[1,1,9,9,9] x) => (float[1,1,1,1,1] y) { y = MaxPool<kernel_shape=[9,9,9]>(x) }"""
    refused(text, "tap by tap: MaxPool with 729 taps a window: graphkit reads at most 512")


@pytest.mark.parametrize(("attrs", "scales"), [
    ('mode="cubic"', [1, 1, 2, 1.5]),
    ('mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1', [1, 1, 0.5, 0.75]),
    ('mode="nearest", nearest_mode="round_prefer_floor"', [1, 1, 1.5, 2]),
    ('mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"',
     [1, 1, 2, 3]),
    ('mode="linear", antialias=1', [1, 1, 0.5, 0.6]),
    ('mode="linear", coordinate_transformation_mode="half_pixel_symmetric"', [1, 1, 1.7, 0.8])])
def test_resize_without_a_builtin_as_matrix_products(tmp_path, rng, attrs, scales):
    """Modes and roundings TFLite's two resize builtins lack, with constant scales."""
    out_h, out_w = int(np.floor(6 * scales[2])), int(np.floor(10 * scales[3]))
    text = f"""<ir_version: 9, opset_import: ["" : 19]>
    g (float[2,3,6,10] x) => (float[2,3,{out_h},{out_w}] y) {{
        scales = Constant<value=float[4] {{{", ".join(map(str, scales))}}}>()
        y = Resize<{attrs}>(x, , scales)
    }}"""
    x = rng.standard_normal((2, 3, 6, 10)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x})


# Dynamic dims: one .tflite, several shapes ---------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements_with_dynamic_shapes(tmp_path, rng, axis):
    """Coordinates built at run time (as BERT's position ids need): negative indices too."""
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[N,M] x, int64[K,L] i) => (float[K,L] y) {{
        y = GatherElements<axis={axis}>(x, i)
    }}"""
    feeds_list = []
    for rows, cols in ((3, 5), (6, 2)):
        size = (rows, cols)[axis]
        index_shape = (2, cols) if axis == 0 else (rows, 4)
        feeds_list.append({
            "x": rng.standard_normal((rows, cols)).astype(np.float32),
            "i": rng.integers(-size, size, index_shape).astype(np.int64)})
    artifact = emitted(tmp_path, text)
    for feeds in feeds_list:
        run_matches(artifact.path, text, feeds, rtol=1e-6, atol=1e-6)


def test_squeeze_and_unsqueeze_with_two_dynamic_dims(tmp_path, rng):
    """No static target for a RESHAPE: SQUEEZE and EXPAND_DIMS by the constant axes."""
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[S,1,B,4] x) => (float[S,B,4] s, float[1,S,1,B,4,1] u) {
        axes = Constant<value = int64[1] {1}>()
        uaxes = Constant<value = int64[2] {-1, 0}>()
        s = Squeeze(x, axes)
        u = Unsqueeze(x, uaxes)
    }"""
    artifact = emitted(tmp_path, text)
    for s, b in ((3, 2), (7, 5)):
        feeds = {"x": rng.standard_normal((s, 1, b, 4)).astype(np.float32)}
        run_matches(artifact.path, text, feeds, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", ["BitwiseXor"])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32"])
def test_bitwise_binary_ops(tmp_path, rng, op, dtype):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g ({dtype}[2,3,4] a, {dtype}[3,4] b) => ({dtype}[2,3,4] y) {{
        y = {op}(a, b)
    }}"""
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (2, 3, 4), endpoint=True).astype(dtype)
    b = rng.integers(info.min, info.max, (3, 4), endpoint=True).astype(dtype)
    emitted_matches(tmp_path, text, {"a": a, "b": b}, evaluator=True)


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint32"])
def test_bitwise_not(tmp_path, rng, dtype):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g ({dtype}[3,4] x) => ({dtype}[3,4] y) {{
        y = BitwiseNot(x)
    }}"""
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (3, 4), endpoint=True).astype(dtype)
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)


@pytest.mark.parametrize(("op", "low", "high"), [
    ("Tan", -1.2, 1.2), ("Sinh", -3, 3), ("Cosh", -3, 3), ("Asin", -0.99, 0.99),
    ("Acos", -0.99, 0.99), ("Atan", -5, 5), ("Asinh", -50, 50), ("Acosh", 1.01, 40),
    ("Atanh", -0.95, 0.95)])
def test_float_functions_composed_of_builtins(tmp_path, rng, op, low, high):
    text = f"""<ir_version: 9, opset_import: ["" : 18]>
    g (float[2,3,4] x) => (float[2,3,4] y) {{
        y = {op}(x)
    }}"""
    x = rng.uniform(low, high, (2, 3, 4)).astype(np.float32)
    emitted_matches(tmp_path, text, {"x": x})


@pytest.mark.parametrize("axis", [-1, 0, -2])
def test_one_hot_with_depth_and_values_at_run_time(tmp_path, axis):
    """Negative indices count from the end; those outside [-depth, depth) are all off."""
    shape = {-1: "[2,3,5]", 0: "[5,2,3]", -2: "[2,5,3]"}[axis]
    text = f"""<ir_version: 9, opset_import: ["" : 11]>
    g (int64[2,3] i, float[1] d, float[2] v) => (float{shape} y) {{
        y = OneHot<axis={axis}>(i, d, v)
    }}"""
    feeds = {"i": np.asarray([[0, 4, -1], [-5, 5, -6]], np.int64),
             "d": np.asarray([5], np.float32), "v": np.asarray([-2, 3], np.float32)}
    emitted_matches(tmp_path, text, feeds)


def test_eye_like_is_a_constant(tmp_path, rng):
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[3,5] x) => (float[3,5] y) {
        e = EyeLike<k=1>(x)
        y = Add(x, e)
    }"""
    emitted_matches(tmp_path, text, {"x": rng.standard_normal((3, 5)).astype(np.float32)})
