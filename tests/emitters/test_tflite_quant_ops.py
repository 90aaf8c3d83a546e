"""Quantized ops, BitCast and the bitwise ops in the TFLite lowering: each emitted .tflite
runs in LiteRT on real random inputs and is compared with onnx's reference evaluator, and
diagnose --target tflite says the same as the emitter."""

from __future__ import annotations

from functools import partial

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from _tflite_checks import emitted_matches, refused

import graphkit
from graphkit.backends.tflite.emitter import emit
from graphkit.backends.tflite.runner import run_artifact


def _proto(text: str) -> onnx.ModelProto:
    """The model in ONNX text, where a graph input or output written without dims
    (`float s`) is a scalar (the text format has no way to say shape [])."""
    proto = onnx.parser.parse_model(text)
    for value in [*proto.graph.input, *proto.graph.output]:
        value.type.tensor_type.shape.SetInParent()
    onnx.checker.check_model(proto)
    return proto


def model_from_text(text: str) -> ir.Model:
    return ir.serde.deserialize_model(_proto(text))


# Every case is compared with onnx's reference evaluator (ONNX Runtime lacks most of these
# kernels), to float32's rounding, both reading the text as _proto does.
_matches = partial(emitted_matches, evaluator=True, rtol=1e-6, atol=0, parse=_proto)
_refused = partial(refused, parse=_proto)


# QuantizeLinear / DequantizeLinear with scale and zero point given at run time ---------

QUANTIZE = """<ir_version: 10, opset_import: ["" : 21]>
g (float[2,3,4] x, float{s} scale, {t}{s} zero) => ({t}[2,3,4] y, float[2,3,4] back) {{
    y = QuantizeLinear<axis={axis}{extra}>(x, scale, zero)
    back = DequantizeLinear<axis={axis}{extra}>(y, scale, zero)
}}"""


@pytest.mark.parametrize("t", ["uint8", "int8", "int16", "uint16"])
@pytest.mark.parametrize(("s", "axis", "extra", "scale_shape"), [
    ("", 1, "", ()), ("[3]", 1, "", (3,)), ("[4]", -1, "", (4,)),
    ("[2,3,2]", 2, ", block_size=2", (2, 3, 2)), ("[1,3,4]", 0, ", block_size=2", (1, 3, 4))])
def test_quantize_with_run_time_scale(tmp_path, rng, t, s, axis, extra, scale_shape):
    dtype = np.dtype(t)
    info = np.iinfo(dtype)
    x = (rng.standard_normal((2, 3, 4)) * 40).astype(np.float32)
    x[0, 0, :2] = [2.5, -3.5]  # halves: rounded to even
    scale = rng.uniform(0.05, 0.6, scale_shape).astype(np.float32)
    scale.flat[0] = 1.0
    zero = rng.integers(info.min // 2, info.max // 2 + 1, scale_shape).astype(dtype)
    zero.flat[0] = 0
    text = QUANTIZE.format(t=t, s=s, axis=axis, extra=extra)
    _matches(tmp_path, text, {"x": x, "scale": scale, "zero": zero})


HALF = """<ir_version: 10, opset_import: ["" : 21]>
g (float16[64] x, float16 scale, uint8 zero) => (uint8 y, float16 back) {
    y = QuantizeLinear(x, scale, zero)
    back = DequantizeLinear(y, scale, zero)
}""".replace("uint8 y", "uint8[64] y").replace("float16 back", "float16[64] back")


def test_quantize_float16_rounds_the_quotient_to_float16(tmp_path, rng):
    x = (rng.standard_normal(64) * 30).astype(np.float16)
    feeds = {"x": x, "scale": np.asarray(0.37, np.float16), "zero": np.asarray(120, np.uint8)}
    _matches(tmp_path, HALF, feeds)


def test_dequantize_int32_at_run_time(tmp_path, rng):
    text = """<ir_version: 10, opset_import: ["" : 21]>
    g (int32[3,5] x, float[5] scale) => (float[3,5] y) {
        y = DequantizeLinear<axis=1>(x, scale)
    }"""
    x = rng.integers(-100000, 100000, (3, 5)).astype(np.int32)
    _matches(tmp_path, text, {"x": x, "scale": rng.uniform(0.01, 1, 5).astype(np.float32)})


def test_quantize_with_a_2d_scale_without_blocks_is_refused():
    _refused("""<ir_version: 10, opset_import: ["" : 21]>
    g (float[2,3] x, float[2,3] scale) => (uint8[2,3] y) {
        y = QuantizeLinear(x, scale)
    }""", "scalars or 1-D")


# BitwiseAnd / BitwiseOr by builtins; BitCast -----------------------------------------

LOGIC = """<ir_version: 10, opset_import: ["" : 18]>
g ({t}[{a}] a, {t}[{b}] b) => ({t}[{out}] y) {{
    y = {op}(a, b)
}}"""

LOGIC_TYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]


def _full_range(rng, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Random values over the type's whole range, with its extremes, -1 and 0 among them."""
    info = np.iinfo(dtype)
    found = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    edges = np.asarray([info.min, info.max, 0, info.max // 2 + 1, 1 if info.min == 0 else -1],
                       dtype)
    found.flat[:edges.size] = edges[:found.size]
    return found


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr"])
@pytest.mark.parametrize("t", LOGIC_TYPES)
@pytest.mark.parametrize(("a", "b", "out"), [
    ((4, 7), (4, 7), (4, 7)), ((2, 3, 5), (5,), (2, 3, 5)), ((2, 1, 4), (3, 1), (2, 3, 4))])
def test_bitwise_and_or_over_the_whole_range(tmp_path, rng, op, t, a, b, out):
    dims = {name: ",".join(map(str, shape)) for name, shape in (("a", a), ("b", b), ("out", out))}
    text = LOGIC.format(t=t, op=op, **dims)
    feeds = {"a": _full_range(rng, np.dtype(t), a), "b": _full_range(rng, np.dtype(t), b)}
    feeds["b"].flat[:3] = feeds["a"].flat[:3]  # x & x == x | x == x
    _matches(tmp_path, text, feeds)


def test_bitwise_and_lowers_to_builtins_only(tmp_path):
    """The row is builtin: no Flex op, whatever --allow-flex says."""
    text = LOGIC.format(t="int32", op="BitwiseAnd", a="3", b="3", out="3")
    from ai_edge_litert.interpreter import Interpreter

    path = emit(model_from_text(text), tmp_path / "m.tflite").path
    ops = {op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()}
    assert ops == {"RIGHT_SHIFT", "MUL", "SUB", "ADD", "BITWISE_XOR"}


BITCAST = """<ir_version: 10, opset_import: ["" : 26]>
g ({source}[3,4] x) => ({target}[3,4] y) {{
    y = BitCast<to={to}>(x)
}}"""


@pytest.mark.parametrize(("source", "target"), [
    ("float", "int32"), ("int32", "float"), ("uint32", "int32"), ("int8", "uint8"),
    ("uint16", "int16"), ("float16", "uint16"), ("int64", "uint64"), ("bool", "uint8")])
def test_bitcast(tmp_path, rng, source, target):
    to = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(target if target != "float" else "f4"))
    text = BITCAST.format(source=source, target=target, to=to)
    dtype = np.dtype(source if source != "float" else "f4")
    if dtype.kind in "iu":
        x = _full_range(rng, dtype, (3, 4))
    elif dtype.kind == "b":
        x = rng.integers(0, 2, (3, 4)).astype(bool)
    else:
        x = (rng.standard_normal((3, 4)) * 100).astype(dtype)
    _matches(tmp_path, text, {"x": x})


def test_bitcast_of_float64_is_refused():
    _refused(BITCAST.format(source="double", target="int64", to=7), "double")


# MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv -------------------------------

def _integers(rng, t: str, shape) -> np.ndarray:
    info = np.iinfo(np.dtype(t))
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(t)


MATMUL_INTEGER = """<ir_version: 10, opset_import: ["" : 21]>
g ({t}[{a}] a, {t}[{b}] b, {t} za, {t}[{n}] zb) => (int32[{out}] y) {{
    y = MatMulInteger(a, b, za, zb)
}}"""


@pytest.mark.parametrize("t", ["uint8", "int8"])
@pytest.mark.parametrize(("a", "b", "out"), [
    ((5, 64), (64, 7), (5, 7)), ((2, 3, 5, 16), (16, 4), (2, 3, 5, 4)),
    ((3, 5, 8), (3, 8, 6), (3, 5, 6))])
def test_matmul_integer(tmp_path, rng, t, a, b, out):
    dims = {name: ",".join(map(str, s)) for name, s in (("a", a), ("b", b), ("out", out))}
    text = MATMUL_INTEGER.format(t=t, n=b[-1], **dims)
    feeds = {"a": _integers(rng, t, a), "b": _integers(rng, t, b),
             "za": _integers(rng, t, ()), "zb": _integers(rng, t, (b[-1],))}
    _matches(tmp_path, text, feeds)


def test_matmul_integer_past_float32_exactness_in_slices(tmp_path, rng):
    """K = 600 with any uint8 zero point: sums up to 600 * 255 * 255 >= 2^24, computed as
    slices of K added in int32; the data makes the sums larger than 2^24 and odd."""
    text = MATMUL_INTEGER.format(t="uint8", a="2,600", b="600,3", n=3, out="2,3")
    feeds = {"a": np.full((2, 600), 255, np.uint8),
             "b": rng.integers(128, 256, (600, 3)).astype(np.uint8),
             "za": np.asarray(0, np.uint8), "zb": np.asarray([1, 0, 3], np.uint8)}
    feeds["a"][1, :7] = 0
    sums = feeds["a"].astype(np.int64) @ (feeds["b"].astype(np.int64) - feeds["zb"])
    assert sums.min() > 2**24 and (sums % 2).any()
    _matches(tmp_path, text, feeds)


def test_matmul_integer_past_int32_is_refused():
    _refused(MATMUL_INTEGER.format(t="uint8", a="2,40000", b="40000,3", n=3, out="2,3"),
             "overflow int32")


def test_qlinear_matmul_long_k(tmp_path, rng):
    text = QLINEAR_MATMUL.format(t="uint8", s="float", n=4, a="3,700", b="700,4", out="3,4")
    feeds = {"a": _integers(rng, "uint8", (3, 700)), "b": _integers(rng, "uint8", (700, 4)),
             "sa": np.asarray(0.01, np.float32), "sb": np.full(4, 0.02, np.float32),
             "sy": np.asarray(1.5, np.float32), "za": np.asarray(128, np.uint8),
             "zb": np.asarray([128, 120, 135, 100], np.uint8), "zy": np.asarray(128, np.uint8)}
    from onnx.reference import ReferenceEvaluator

    want = ReferenceEvaluator(_proto(text)).run(None, feeds)[0]
    assert want.min() > 0 and want.max() < 255  # not saturated: the sums matter
    _matches(tmp_path, text, feeds)


def test_matmul_integer_bound_from_constant_zero_points(tmp_path, rng):
    """The same K with int8 and zero points 0 (constants): sums within 300 * 128 * 128."""
    text = """<ir_version: 10, opset_import: ["" : 21]>
    g (int8[2,300] a, int8[300,3] b) => (int32[2,3] y) {
        y = MatMulInteger(a, b)
    }"""
    feeds = {"a": np.full((2, 300), -128, np.int8), "b": _integers(rng, "int8", (300, 3))}
    feeds["b"][:, 0] = -128
    _matches(tmp_path, text, feeds)


QLINEAR_MATMUL = """<ir_version: 10, opset_import: ["" : 21]>
g ({t}[{a}] a, {s} sa, {t} za, {t}[{b}] b, {s}[{n}] sb, {t}[{n}] zb, {s} sy, {t} zy)
    => ({t}[{out}] y) {{
    y = QLinearMatMul(a, sa, za, b, sb, zb, sy, zy)
}}"""


@pytest.mark.parametrize("t", ["uint8", "int8"])
@pytest.mark.parametrize("s", ["float", "float16"])
@pytest.mark.parametrize(("a", "b", "out", "n"), [
    ((6, 32), (32, 5), (6, 5), 5), ((2, 6, 32), (2, 32, 5), (2, 6, 5), 1)])
def test_qlinear_matmul(tmp_path, rng, t, s, a, b, out, n):
    dims = {name: ",".join(map(str, v)) for name, v in (("a", a), ("b", b), ("out", out))}
    text = QLINEAR_MATMUL.format(t=t, s=s, n=n, **dims)
    scale = np.float32 if s == "float" else np.float16
    feeds = {"a": _integers(rng, t, a), "b": _integers(rng, t, b),
             "sa": np.asarray(rng.uniform(0.005, 0.02), scale),
             "sb": rng.uniform(0.005, 0.02, n).astype(scale),
             "sy": np.asarray(rng.uniform(0.5, 2), scale),
             "za": _integers(rng, t, ()), "zb": _integers(rng, t, (n,)),
             "zy": _integers(rng, t, ())}
    _matches(tmp_path, text, feeds)


CONV_INTEGER = """<ir_version: 10, opset_import: ["" : 21]>
g ({t}[2,3,9,8] x, {t}[4,3,3,3] w, {t} zx, {t}[4] zw) => (int32[2,4,{h},{w}] y) {{
    y = ConvInteger<{attrs}>(x, w, zx, zw)
}}"""


@pytest.mark.parametrize("t", ["uint8", "int8"])
@pytest.mark.parametrize(("attrs", "h", "w"), [
    ("pads=[1,1,1,1]", 9, 8), ("pads=[0,2,1,0], strides=[2,1]", 4, 8),
    ("auto_pad=\"VALID\", dilations=[2,2]", 5, 4)])
def test_conv_integer(tmp_path, rng, t, attrs, h, w):
    text = CONV_INTEGER.format(t=t, attrs=attrs, h=h, w=w)
    feeds = {"x": _integers(rng, t, (2, 3, 9, 8)), "w": _integers(rng, t, (4, 3, 3, 3)),
             "zx": _integers(rng, t, ()), "zw": _integers(rng, t, (4,))}
    _matches(tmp_path, text, feeds)


def test_conv_integer_with_groups_is_refused():
    _refused("""<ir_version: 10, opset_import: ["" : 21]>
    g (uint8[1,4,5,5] x, uint8[4,2,3,3] w) => (int32[1,4,3,3] y) {
        y = ConvInteger<group=2>(x, w)
    }""", "group")


QLINEAR_CONV = """<ir_version: 10, opset_import: ["" : 21]>
g ({t}[1,3,7,6] x, float sx, {t} zx, {t}[5,3,3,3] w, float[5] sw, {t}[5] zw, float sy,
   {t} zy, int32[5] bias) => ({t}[1,5,7,6] y) {{
    y = QLinearConv<pads=[1,1,1,1]>(x, sx, zx, w, sw, zw, sy, zy, bias)
}}"""


@pytest.mark.parametrize("t", ["uint8", "int8"])
def test_qlinear_conv(tmp_path, rng, t):
    feeds = {"x": _integers(rng, t, (1, 3, 7, 6)), "w": _integers(rng, t, (5, 3, 3, 3)),
             "sx": np.asarray(0.02, np.float32), "sw": rng.uniform(0.01, 0.03, 5).astype("f4"),
             "sy": np.asarray(1.5, np.float32), "zx": _integers(rng, t, ()),
             "zw": _integers(rng, t, (5,)), "zy": _integers(rng, t, ()),
             "bias": rng.integers(-5000, 5000, 5).astype(np.int32)}
    _matches(tmp_path, QLINEAR_CONV.format(t=t), feeds)


QDQ_BETWEEN_CONVS = """<ir_version: 10, opset_import: ["" : 21]>
g (float[1,3,6,5] x, float[4] sc, uint8[4] zc) => (float[1,4,6,5] y)
<float[4,3,3,3] w1 = {{{w1}}}, float[4,4,1,1] w2 = {{{w2}}}, float s = {{0.05}},
 uint8 z = {{128}}> {{
  c1 = Conv<pads=[1,1,1,1]>(x, w1)
  q = QuantizeLinear(c1, s, z)
  d = DequantizeLinear(q, s, z)
  q2 = QuantizeLinear<axis=1>(d, sc, zc)
  d2 = DequantizeLinear<axis=1>(q2, sc, zc)
  y = Conv(d2, w2)
}}"""


def test_qdq_between_convolutions_keeps_nhwc(tmp_path, rng):
    """Q/DQ of an NHWC activation, per tensor and per channel (scale at run time), add no
    TRANSPOSE: only the image's way in and out has one."""
    from ai_edge_litert.interpreter import Interpreter

    w1 = ", ".join(f"{v:.3f}" for v in rng.standard_normal(108) * 0.3)
    w2 = ", ".join(f"{v:.3f}" for v in rng.standard_normal(16))
    text = QDQ_BETWEEN_CONVS.format(w1=w1, w2=w2)
    feeds = {"x": rng.standard_normal((1, 3, 6, 5)).astype(np.float32),
             "sc": np.asarray([0.02, 0.05, 0.03, 0.04], np.float32),
             "zc": np.asarray([100, 128, 140, 120], np.uint8)}
    model = model_from_text(text)
    path = emit(model, tmp_path / "m.tflite").path
    ops = [op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()]
    assert ops.count("TRANSPOSE") == 2
    got = run_artifact(path, feeds)["y"]
    from onnx.reference import ReferenceEvaluator

    want = ReferenceEvaluator(_proto(text)).run(None, feeds)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_integer_deep_input_in_exact_slices(tmp_path, rng):
    """64 channels of 3x3 uint8 with zero points given at run time: sums up to
    576 * 255 * 255 >= 2^24, so the channels are convolved in slices added in int32; the
    data makes the sums pass 2^24."""
    text = """<ir_version: 10, opset_import: ["" : 21]>
    g (uint8[1,64,5,5] x, uint8[3,64,3,3] w, uint8 zx, uint8 zw) => (int32[1,3,3,3] y) {
        y = ConvInteger(x, w, zx, zw)
    }"""
    feeds = {"x": rng.integers(200, 256, (1, 64, 5, 5)).astype(np.uint8),
             "w": rng.integers(200, 256, (3, 64, 3, 3)).astype(np.uint8),
             "zx": np.asarray(0, np.uint8), "zw": np.asarray(1, np.uint8)}
    _matches(tmp_path, text, feeds)
    from onnx.reference import ReferenceEvaluator

    assert ReferenceEvaluator(_proto(text)).run(None, feeds)[0].min() > 2**24


@pytest.mark.parametrize("t", ["uint8", "int8"])
def test_depthwise_qlinear_and_integer_conv(tmp_path, rng, t):
    """group = channels, two outputs per channel: DEPTHWISE_CONV_2D."""
    text = f"""<ir_version: 10, opset_import: ["" : 21]>
    g ({t}[1,3,6,6] x, float sx, {t} zx, {t}[6,1,3,3] w, float[6] sw, {t}[6] zw, float sy,
       {t} zy) => ({t}[1,6,3,3] y, int32[1,6,3,3] i) {{
        y = QLinearConv<group=3, strides=[2,2], pads=[1,1,0,0]>(x, sx, zx, w, sw, zw, sy, zy)
        i = ConvInteger<group=3, strides=[2,2], pads=[1,1,0,0]>(x, w, zx, zw)
    }}"""
    feeds = {"x": _integers(rng, t, (1, 3, 6, 6)), "w": _integers(rng, t, (6, 1, 3, 3)),
             "sx": np.asarray(0.02, np.float32), "sw": rng.uniform(0.01, 0.03, 6).astype("f4"),
             "sy": np.asarray(0.5, np.float32), "zx": _integers(rng, t, ()),
             "zw": _integers(rng, t, (6,)), "zy": _integers(rng, t, ())}
    _matches(tmp_path, text, feeds)


# DynamicQuantizeLinear, and ONNX Runtime's dynamically quantized MatMul ---------------

DYNAMIC = """<ir_version: 10, opset_import: ["" : 21]>
g (float[3,17] x) => (uint8[3,17] y, float s, uint8 z) {
    y, s, z = DynamicQuantizeLinear(x)
}"""


@pytest.mark.parametrize("kind", ["mixed", "positive", "negative", "zeros"])
def test_dynamic_quantize_linear(tmp_path, rng, kind):
    """Opset 21: the op's function body (written for opset 11) no longer holds, so the
    emitter lowers the op itself; all zeros is onnx's reference's scale of 1 / 255."""
    x = (rng.standard_normal((3, 17)) * 4).astype(np.float32)
    x = {"mixed": x, "positive": np.abs(x) + 1, "negative": -np.abs(x) - 0.5,
         "zeros": np.zeros_like(x)}[kind]
    _matches(tmp_path, DYNAMIC, {"x": x})


def test_dynamically_quantized_mlp_from_onnxruntime(tmp_path, rng):
    """quantize_dynamic's DynamicQuantizeLinear + MatMulInteger (K = 768: two exact slices)
    + Mul + Cast converts and matches ONNX Runtime on the quantized model."""
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = [numpy_helper.from_array((rng.standard_normal(s) * 0.05).astype(np.float32), n)
               for n, s in (("w1", (768, 256)), ("w2", (256, 10)))]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 768])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 10])], weights)
    source = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=9), source)
    quantize_dynamic(source, tmp_path / "q.onnx", weight_type=QuantType.QInt8)
    model = ir.load(tmp_path / "q.onnx")
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {n.op_type for n in model.graph}
    assert graphkit.diagnose(model, "tflite").blockers == []
    x = rng.standard_normal((4, 768)).astype(np.float32)
    got = run_artifact(emit(model, tmp_path / "m.tflite").path, {"x": x})["y"]
    from conftest import run_ort

    want = run_ort(onnx.load(tmp_path / "q.onnx"), {"x": x})[0]
    assert want.std() > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _small_cnn(rng, path) -> None:
    """Conv-Relu, strided Conv-Relu, depthwise Conv, flatten, MatMul: float32, opset 17."""
    from onnx import TensorProto, helper, numpy_helper

    def weight(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype("f4"), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1],
                              strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["c3"], group=16, pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["c3", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "w4"], ["y"])]
    inits = [weight("w1", (16, 3, 3, 3)), weight("b1", (16,)), weight("w2", (16, 16, 3, 3)),
             weight("b2", (16,)), weight("w3", (16, 1, 3, 3)), weight("w4", (1024, 10)),
             numpy_helper.from_array(np.asarray([1, 1024], np.int64), "shape")]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=9), path)


@pytest.mark.parametrize("form", ["QOperator", "QDQ"])
def test_statically_quantized_cnn_from_onnxruntime(tmp_path, rng, form):
    """quantize_static, per-channel int8 weights and uint8 activations: QLinearConv and
    QLinearMatMul (QOperator), or Q/DQ around float ops (QDQ). Both convert, match ONNX
    Runtime on the quantized model, and keep NHWC inside (a TRANSPOSE in, one out)."""
    from ai_edge_litert.interpreter import Interpreter
    from conftest import run_ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Samples(CalibrationDataReader):
        def __init__(self):
            self.left = [{"x": rng.standard_normal((1, 3, 16, 16)).astype("f4")}
                         for _ in range(4)]

        def get_next(self):
            return self.left.pop() if self.left else None

    _small_cnn(rng, tmp_path / "cnn.onnx")
    quantize_static(tmp_path / "cnn.onnx", tmp_path / "q.onnx", Samples(),
                    quant_format=getattr(QuantFormat, form), per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    model = ir.load(tmp_path / "q.onnx")
    assert graphkit.diagnose(model, "tflite").blockers == []
    path = emit(model, tmp_path / "m.tflite").path
    ops = [op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()]
    assert ops.count("TRANSPOSE") == 2
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    want = run_ort(onnx.load(tmp_path / "q.onnx"), {"x": x})[0]
    assert want.std() > 0.1
    np.testing.assert_allclose(run_artifact(path, {"x": x})["y"], want, rtol=1e-5, atol=1e-5)


def test_bitwise_and_of_unknown_rank_is_refused():
    """Values without shapes (as inside a graph nothing has typed): no rank, no lowering."""
    from graphkit.backends.tflite.lowering import unsupported_reason
    from graphkit.targets.base import ValueFacts

    model = model_from_text(LOGIC.format(t="int32", op="BitwiseAnd", a="6", b="6", out="6"))
    node = next(iter(model.graph))
    for value in [*node.inputs, *node.outputs]:
        value.shape = None
    assert "rank" in unsupported_reason(node, 18, ValueFacts())
