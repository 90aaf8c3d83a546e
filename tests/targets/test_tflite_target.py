"""tflite: builtins, Flex (a warning, or a blocker for tflite-builtins), ops that cannot convert."""

from __future__ import annotations

from _helpers import check, codes, only
from conftest import model_from_text

from graphkit.backends.tflite.target import TFLiteTarget
from graphkit.findings import Severity
from graphkit.targets.base import NodeContext

EINSUM = (
    'g (float[2,3] a, float[3,4] b) => (float[2,4] y) { y = Einsum<equation="ij,jk->ik">(a, b) }'
)
# Einsum was the Flex example until graphkit lowered it to builtins (lowering/_einsum.py)
# string ops have no builtin form: RegexFullMatch lowers only to TF's op, through Flex
REGEX = 'g (string[4] s) => (bool[4] y) { y = RegexFullMatch<pattern = "a+">(s) }'


def test_clean_model_converts():
    text = """
    g (float[1,3,8,8] x) => (float[1,3,4,4] y) {
      p = MaxPool<kernel_shape=[2,2], strides=[2,2]>(x)
      s = Sigmoid(p)
      y = Mul(p, s)
    }"""
    assert check(text, "tflite") == (True, [])


def test_flex_blocks_while_the_emitter_writes_builtins_only():
    # graphkit's TFLite emitter writes no Select TF ops, so neither name may call a Flex
    # model convertible; the finding still names the op and the fix that removes it.
    for target in ("tflite", "tflite-builtins"):
        convertible, findings = check(REGEX, target, opset=20)
        finding = only(findings, "GK107")
        assert not convertible and finding.severity is Severity.ERROR
        assert "StaticRegexFullMatch" in finding.message


def test_op_without_lowering_is_gk101():
    text = """
    g (float[1,1,4,4] x, float[2,5] rois) => (float[2,1,2,2] y) {
      y = MaxRoiPool<pooled_shape=[2,2]>(x, rois)
    }"""
    convertible, findings = check(text, "tflite", opset=20)
    assert not convertible and codes(findings) == ["GK101"]


def test_function_op_is_lowered_as_its_body_and_decompose_is_not_offered():
    text = """
    g (float[1,2,4,8] q, float[1,2,4,8] k, float[1,2,4,8] v) => (float[1,2,4,8] y) {
      y = Attention(q, k, v)
    }"""
    assert check(text, "tflite", opset=23)[0]
    # a body with a node that does not lower: decompose would inline that same body
    doubles = text.replace("float[", "double[")
    convertible, findings = check(doubles, "tflite", opset=23)
    assert not convertible
    assert all(not (f.fix or "").startswith("decompose") for f in findings)


def test_float64_blocks_where_it_is_computed():
    # LiteRT's CAST and the kernels that only rearrange bytes take float64; no arithmetic
    # kernel does, so an Add on doubles needs float64-to-float32
    moved = """g (float[4] x) => (double[2,2] y) {
      d = Cast<to=11>(x)
      s = Constant<value = int64[2] {2, 2}>()
      y = Reshape(d, s)
    }"""
    assert check(moved, "tflite") == (True, [])
    add = "g (double[4] x, double[4] z) => (double[4] y) { y = Add(x, z) }"
    finding = only(check(add, "tflite")[1], "GK202")
    assert finding.severity is Severity.ERROR and finding.fix == "float64-to-float32"
    # CAST rounds float64 to float16 through float32: the emitter's sentence says so
    halved = "g (double[4] x) => (float16[4] y) { y = Cast<to=10>(x) }"
    convertible, findings = check(halved, "tflite")
    assert not convertible and "twice" in findings[0].message


def test_resize_nearest_rounding_without_a_builtin_takes_constant_or_run_time_scales():
    text = """
    g (float[1,3,8,8] x) => (float[1,3,16,16] y) {
      s = Constant<value = float[4] {1,1,2,2}>()
      y = Resize<mode="nearest", coordinate_transformation_mode="asymmetric">(x, , s)
    }"""
    # ONNX's default nearest_mode is round_prefer_floor; TFLite's asymmetric nearest floors,
    # so this one is lowered as matrix products of ONNX's weights: computed when converting
    # from constant scales, built in the model from run-time ones (one entry per axis)
    assert check(text, "tflite", opset=13)[0]
    floor = text.replace('"asymmetric"', '"asymmetric", nearest_mode="floor"')
    assert check(floor, "tflite", opset=13)[0]
    run_time = text.replace("float[1,3,8,8] x)", "float[1,3,8,8] x, float[4] s)").replace(
        "s = Constant<value = float[4] {1,1,2,2}>()", "")
    assert check(run_time, "tflite", opset=13)[0]
    unknown_length = run_time.replace("float[4] s)", "float[N] s)")
    convertible, findings = check(unknown_length, "tflite", opset=13)
    assert not convertible and "input 2 must have the static shape [4]" in findings[0].message


def test_reduce_axes_need_a_static_length_and_mod_takes_either_remainder():
    # axes given at run time are read by the reducer; their count must be known
    reduce = "g (float[2,3] x, int64[1] a) => (float[2] y) { y = ReduceSum<keepdims=0>(x, a) }"
    assert check(reduce, "tflite")[0]
    unknown = reduce.replace("int64[1] a", "int64[N] a")
    assert "static length" in only(check(unknown, "tflite")[1], "GK101").message
    fmod_int = "g (int32[4] a, int32[4] b) => (int32[4] y) { y = Mod<fmod=1>(a, b) }"
    assert check(fmod_int, "tflite")[0]  # the floor remainder moved to the dividend's sign
    floor_int = "g (int32[4] a, int32[4] b) => (int32[4] y) { y = Mod(a, b) }"
    assert check(floor_int, "tflite")[0]
    doubles = fmod_int.replace("int32", "double")
    assert "float64" in only(check(doubles, "tflite")[1], "GK202").message


def test_lowering_names_builtins():
    model = model_from_text(
        '<ir_version: 8, opset_import: ["" : 17]>\n'
        + EINSUM.replace('Einsum<equation="ij,jk->ik">', "MatMul")
    )
    ctx = NodeContext(opset=17, opsets={"": 17}, graph=model.graph, in_subgraph=False)
    entry = TFLiteTarget().lowering(next(iter(model.graph)), ctx)
    assert entry is not None and "BATCH_MATMUL" in entry.tflite
