"""fuse: each fusion before/after in ONNX text, outputs compared on ONNX Runtime, plus torch
models.
"""

import io

import numpy as np
import onnx
import pytest
from conftest import model_from_text, ops, run_ort

from graphkit.errors import InputError
from graphkit.passes.fuse import FUSIONS, Fuse, fusions_for
from graphkit.passmanager import PassContext


def header(opset: int) -> str:
    return f'<ir_version: 10, opset_import: ["" : {opset}]>'


GEMM = header(17) + """
g (float[4, 8] a, float[8, 3] b) => (float[4, 3] y) {
    c = Constant <value = float[3] {1, 2, 3}> ()
    m = MatMul(a, b)
    y = Add(m, c)
}"""
GEMM_3D = header(17) + """
g (float[2, 4, 8] a, float[8, 3] b) => (float[2, 4, 3] y) {
    c = Constant <value = float[3] {1, 2, 3}> ()
    m = MatMul(a, b)
    y = Add(c, m)
}"""
GELU_ERF = """
g (float[3, 5] x) => (float[3, 5] y) {
    d = Div(x, sq)
    e = Erf(d)
    one = Constant <value = float {1}> ()
    p = Add(e, one)
    xm = Mul(x, p)
    half = Constant <value = float {0.5}> ()
    y = Mul(xm, half)
}"""
GELU_SQ = "    sq = Constant <value = float {1.4142135}> ()\n"
GELU_TANH = header(20) + """
g (float[3, 5] x) => (float[3, 5] y) {
    three = Constant <value = float {3}> ()
    c = Pow(x, three)
    k = Constant <value = float {0.044715}> ()
    ck = Mul(k, c)
    s = Add(x, ck)
    r = Constant <value = float {0.7978846}> ()
    rs = Mul(r, s)
    t = Tanh(rs)
    one = Constant <value = float {1}> ()
    p = Add(one, t)
    xm = Mul(x, p)
    half = Constant <value = float {0.5}> ()
    y = Mul(half, xm)
}"""
SILU = """
g (float[3, 5] x) => (float[3, 5] y) {
    s = Sigmoid(x)
    y = Mul(s, x)
}"""
HARD_SWISH = header(14) + """
g (float[3, 5] x) => (float[3, 5] y, float[3, 5] z) {
    three = Constant <value = float {3}> ()
    zero = Constant <value = float {0}> ()
    six = Constant <value = float {6}> ()
    a = Add(x, three)
    r = Clip(a, zero, six)
    m = Mul(x, r)
    y = Div(m, six)
    a2 = Add(x, three)
    r2 = Clip(a2, zero, six)
    z = Div(r2, six)
}"""
TRANSPOSES = header(17) + """
g (float[2, 3, 4] x) => (float[2, 3, 4] y, float[4, 2, 3] z) {
    t = Transpose <perm = [2, 0, 1]> (x)
    y = Transpose <perm = [1, 2, 0]> (t)
    u = Transpose <perm = [1, 0, 2]> (x)
    z = Transpose <perm = [2, 1, 0]> (u)
}"""
RESHAPES = header(17) + """
g (float[2, 3, 4] x) => (float[6, 4] y) {
    s1 = Constant <value = int64[2] {4, 6}> ()
    s2 = Constant <value = int64[2] {6, 4}> ()
    r = Reshape(x, s1)
    y = Reshape(r, s2)
}"""
PAD_CONV = header(17) + """
g (float[1, 2, 6, 6] x) => (float[1, 3, 9, 6] y) {
    pads = Constant <value = int64[8] {0, 0, 2, 0, 0, 0, 1, 1}> ()
    w = Constant <value = float[3, 2, 2, 2] {1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 1, 2, 2, 2, 2,
                                             0, 1, 0, 1, 1, 0, 1, 0}> ()
    p = Pad(x, pads)
    y = Conv <pads = [1, 0, 0, 0]> (p, w)
}"""
CONV_SCALE = header(17) + """
g (float[1, 2, 5, 5] x) => (float[1, 3, 4, 4] y) {
    w = Constant <value = float[3, 2, 2, 2] {1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 1, 2, 2, 2, 2,
                                             0, 1, 0, 1, 1, 0, 1, 0}> ()
    b = Constant <value = float[3] {0.5, -1, 2}> ()
    s = Constant <value = float[1, 3, 1, 1] {2, -0.5, 3}> ()
    t = Constant <value = float[3, 1, 1] {1, 2, -3}> ()
    c = Conv(x, w, b)
    m = Mul(s, c)
    w2 = Constant <value = float[3, 3, 1, 1] {1, 0, 1, 0, 1, 0, 2, 2, 2}> ()
    c2 = Conv(m, w2)
    y = Add(c2, t)
}"""
# tf2onnx's form of Keras' hard_swish: x * (relu6(x + 3) * (1/6))
HARD_SWISH_TF = header(14) + """
g (float[3, 5] x) => (float[3, 5] y) {
    three = Constant <value = float {3}> ()
    zero = Constant <value = float {0}> ()
    six = Constant <value = float {6}> ()
    sixth = Constant <value = float {0.16666667}> ()
    a = Add(x, three)
    r = Clip(a, zero, six)
    g = Mul(r, sixth)
    y = Mul(x, g)
}"""
LAYER_NORM = header(17) + """
g (float[2, 3, 8] x) => (float[2, 3, 8] y) {
    mean = ReduceMean <axes = [-1]> (x)
    d = Sub(x, mean)
    two = Constant <value = float {2}> ()
    sq = Pow(d, two)
    var = ReduceMean <axes = [2]> (sq)
    eps = Constant <value = float {1e-5}> ()
    ve = Add(var, eps)
    std = Sqrt(ve)
    n = Div(d, std)
    gamma = Constant <value = float[8] {1, 2, 3, 4, 5, 6, 7, 8}> ()
    beta = Constant <value = float[1, 8] {0, 1, 0, 1, 0, 1, 0, 1}> ()
    ng = Mul(n, gamma)
    y = Add(ng, beta)
}"""
LAYER_NORM_18 = LAYER_NORM.replace('"" : 17', '"" : 18').replace(
    "mean = ReduceMean <axes = [-1]> (x)",
    "ax = Constant <value = int64[1] {-1}> ()\n    mean = ReduceMean(x, ax)"
).replace("var = ReduceMean <axes = [2]> (sq)", "var = ReduceMean(sq, ax)")

CASES = [
    # (model text, rules, op that must appear, ops that must be gone)
    (GEMM, "gemm", "Gemm", {"MatMul", "Add"}),
    (header(20) + GELU_ERF.replace("{\n", "{\n" + GELU_SQ, 1), "gelu", "Gelu", {"Erf", "Mul"}),
    (GELU_TANH, "gelu", "Gelu", {"Tanh", "Pow"}),
    (header(24) + SILU, "silu", "Swish", {"Sigmoid"}),
    (header(18) + SILU.replace("s = Sigmoid(x)", "sp = Softplus(x)\n    s = Tanh(sp)"),
     "mish", "Mish", {"Tanh"}),
    (HARD_SWISH, "hard-sigmoid+hard-swish", "HardSwish", {"Clip", "Div"}),
    (HARD_SWISH_TF, "hard-swish", "HardSwish", {"Clip", "Mul"}),
    (TRANSPOSES, "transposes", "Transpose", set()),
    (RESHAPES, "reshapes", "Reshape", set()),
    (PAD_CONV, "pad-conv", "Conv", {"Pad"}),
    (CONV_SCALE, "conv-scale", "Conv", {"Mul", "Add"}),
    (LAYER_NORM, "layer-norm", "LayerNormalization", {"ReduceMean", "Sqrt"}),
    (LAYER_NORM_18, "layer-norm", "LayerNormalization", {"ReduceMean", "Sqrt"}),
]


def feeds_for(model, rng):
    return {v.name: rng.standard_normal(tuple(v.shape)).astype(np.float32)
            for v in model.graph.inputs}


def fuse_and_compare(model, rules: str, rng):
    feeds = feeds_for(model, rng)
    before = run_ort(model, feeds)
    result = Fuse(rules=tuple(rules.split("+"))).run(model, PassContext())
    onnx.checker.check_model(onnx.shape_inference.infer_shapes(_proto(model)), full_check=True)
    after = run_ort(model, feeds)
    for b, a in zip(before, after, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return result


def _proto(model):
    import onnx_ir as ir

    return ir.to_proto(model)


@pytest.mark.parametrize(("text", "rules", "fused", "gone"), CASES,
                         ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_fusion_rewrites_and_keeps_outputs(text, rules, fused, gone, rng):
    model = model_from_text(text)
    result = fuse_and_compare(model, rules, rng)
    assert result.modified
    assert fused in ops(model)
    assert not gone & set(ops(model)), ops(model)


def test_cancelling_transposes_vanish_and_merged_ones_compose(rng):
    model = model_from_text(TRANSPOSES)
    fuse_and_compare(model, "transposes", rng)
    # y = x routed through Identity (output names kept)
    assert ops(model) == ["Identity", "Transpose"]
    [merged] = [n for n in model.graph if n.op_type == "Transpose"]
    assert list(merged.attributes["perm"].value) == [2, 0, 1]


def test_gemm_declines_3d_matmul_and_says_why(rng):
    model = model_from_text(GEMM_3D)
    result = fuse_and_compare(model, "gemm", rng)
    assert not result.modified and "Gemm" not in ops(model)
    assert any("2-D" in f.message and f.code == "GK505" for f in result.findings)


def test_conv_scale_declines_a_constant_that_varies_along_space(rng):
    # One number per pixel, not per channel: no Conv weight can hold it.
    text = CONV_SCALE.replace("float[1, 3, 1, 1] {2, -0.5, 3}", "float[4, 4] {" +
                              ", ".join(str(i) for i in range(16)) + "}")
    model = model_from_text(text)
    result = fuse_and_compare(model, "conv-scale", rng)
    assert "Mul" in ops(model) and "Add" not in ops(model)
    assert any("varies along more than the output channel" in f.message
               for f in result.findings)


NO_OP_RESHAPE = header(17) + """
g (float[N, 6, 1, 1] x) => (float[N, 6, 1, 1] y) {
    m = Mul(x, x)
    s = Constant <value = int64[4] {-1, 6, 1, 1}> ()
    r = Reshape(m, s)
    y = Relu(r)
}"""


def test_a_reshape_to_its_input_shape_goes(rng):
    # As tf2onnx writes a squeeze-excite block: the dynamic batch is the -1.
    model = model_from_text(NO_OP_RESHAPE)
    feeds = {"x": rng.standard_normal((3, 6, 1, 1)).astype(np.float32)}
    before = run_ort(model, feeds)
    assert Fuse(rules=("reshapes",)).run(model, PassContext()).modified
    assert "Reshape" not in ops(model)  # its shape Constant stays, for remove-dead-nodes
    np.testing.assert_array_equal(run_ort(model, feeds)[0], before[0])


@pytest.mark.parametrize("target", ["{-1, 3, 2, 1}", "{-1, -1, 1, 1}", "{2, 6, 1, 1}"])
def test_a_reshape_that_may_change_the_shape_stays(target, rng):
    model = model_from_text(NO_OP_RESHAPE.replace("{-1, 6, 1, 1}", target).replace(
        "=> (float[N, 6, 1, 1] y)", "=> (float y)"))
    result = Fuse(rules=("reshapes",)).run(model, PassContext())
    assert not result.modified and "Reshape" in ops(model)
    assert any("changes the shape" in f.message for f in result.findings)


NEUTRAL = header(17) + """
g (float[N, 4] x) => (float[N, 3] y) {
    w = Constant <value = float[4, 3] {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3}> ()
    zeros = Constant <value = float[3] {0, 0, 0}> ()
    ones = Constant <value = float[1, 3] {1, 1, 1}> ()
    one = Constant <value = float {1}> ()
    m = MatMul(x, w)
    a = Add(zeros, m)
    b = Mul(a, ones)
    c = Div(b, one)
    d = Sub(c, zeros)
    y = Relu(d)
}"""


def test_neutral_arithmetic_goes(rng):
    model = model_from_text(NEUTRAL)
    feeds = {"x": rng.standard_normal((5, 4)).astype(np.float32)}
    before = run_ort(model, feeds)
    result = Fuse(rules=("neutral",)).run(model, PassContext())
    assert result.modified and len(result.changes) == 4
    assert not {"Add", "Mul", "Div", "Sub"} & set(ops(model))
    np.testing.assert_array_equal(run_ort(model, feeds)[0], before[0])


@pytest.mark.parametrize(("old", "new", "why"), [
    ("float[3] {0, 0, 0}", "float[3] {0, 1, 0}", "not all 0"),
    # Adding [2, 3] zeros to an [N, 3] value broadcasts it when N is 1: the shape may change.
    ("float[3] {0, 0, 0}", "float[2, 3] {0, 0, 0, 0, 0, 0}", "larger shape"),
])
def test_arithmetic_that_may_change_a_value_stays(old, new, why, rng):
    model = model_from_text(NEUTRAL.replace(old, new).replace("(float[N, 3] y)", "(float y)"))
    result = Fuse(rules=("neutral",)).run(model, PassContext())
    assert "Add" in ops(model)
    assert any(why in f.message for f in result.findings)


def test_gelu_kept_below_opset_20(rng):
    model = model_from_text(header(17) + GELU_ERF.replace("{\n", "{\n" + GELU_SQ, 1))
    result = fuse_and_compare(model, "gelu", rng)
    assert not result.modified and "Erf" in ops(model)
    assert any("needs opset 20" in f.message for f in result.findings)


def test_silu_kept_below_opset_24(rng):
    model = model_from_text(header(23) + SILU)
    assert not Fuse(rules=("silu",)).run(model, PassContext()).modified


def test_shared_intermediate_blocks_fusion(rng):
    # The Erf result is also a graph output: fusing would delete a value someone reads.
    text = header(20) + GELU_ERF.replace("{\n", "{\n" + GELU_SQ, 1).replace(
        "=> (float[3, 5] y)", "=> (float[3, 5] y, float[3, 5] e)")
    model = model_from_text(text)
    result = fuse_and_compare(model, "gelu", rng)
    assert "Gelu" not in ops(model)
    assert any("used outside the pattern" in f.message for f in result.findings)


def test_unknown_rule_set_is_a_clear_error():
    with pytest.raises(InputError, match="unknown rule set 'gelo'"):
        Fuse(rules=("gelo",))


def test_fusions_for_filters_by_target_and_opset():
    names = fusions_for(lambda op, opset: op != "Swish", 20)
    assert "gelu" in names and "silu" not in names and "layer-norm" in names
    assert "gelu" not in fusions_for(lambda op, opset: True, 17)
    assert {f.name for f in FUSIONS} >= {"conv-bn", "conv-scale", "gemm", "gelu", "layer-norm",
                                         "silu", "hard-swish", "hard-sigmoid", "pad-conv",
                                         "transposes", "reshapes"}


def _export(module, *args, opset=17):
    import torch

    buffer = io.BytesIO()
    torch.onnx.export(module.eval(), args, buffer, dynamo=False, opset_version=opset,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    return buffer.getvalue()


def test_torch_cnn_batchnorm_fused_away(rng):
    import torch

    from graphkit.ir import model_from_proto

    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
              torch.nn.Conv2d(8, 8, 3, groups=2, bias=False), torch.nn.BatchNorm2d(8),
              torch.nn.ReLU(),
              torch.nn.ConvTranspose2d(8, 4, 2, stride=2, groups=2), torch.nn.BatchNorm2d(4)]
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():  # non-trivial running statistics, so a wrong fold shows
        for bn in (m for m in net if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    model = model_from_proto(onnx.load_from_string(_export(net, torch.randn(1, 3, 16, 16))))
    assert ops(model).count("BatchNormalization") == 3
    result = fuse_and_compare(model, "conv-bn", rng)
    assert "BatchNormalization" not in ops(model)
    assert len(result.changes) == 3
