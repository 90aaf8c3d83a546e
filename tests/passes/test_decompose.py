"""decompose: each op before/after on ONNX Runtime, at the model's opset and at the declared
minimum.
"""

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, ops, run_ort

from graphkit.errors import InputError
from graphkit.passes.decompose import DECOMPOSITIONS, REPLACEMENT_MIN_OPSET, Decompose
from graphkit.passmanager import PassContext

R = np.random.default_rng(7)


def floats(*shape, scale=1.0):
    return (R.standard_normal(shape) * scale).astype(np.float32)


def case(opset, signature, body, feeds, op):
    text = f'<ir_version: 10, opset_import: ["" : {opset}]>\ng {signature} {{\n{body}\n}}'
    return pytest.param(text, feeds, op, id=f"{op}-{len(CASE_IDS)}"), CASE_IDS.append(op)


CASE_IDS: list = []
UNIQUE_ROWS = np.array([[2], [0]], np.int64)
CASES = [c for c, _ in [
    case(12, "(float[3, 4] a, float[4, 5] b) => (float[3, 5] y)",
         'y = Einsum <equation = "ij,jk->ik"> (a, b)',
         {"a": floats(3, 4), "b": floats(4, 5)}, "Einsum"),
    case(12, "(float[2, 3, 4, 6] q, float[2, 3, 5, 6] k) => (float[2, 3, 4, 5] y)",
         'y = Einsum <equation = "bhqd,bhkd->bhqk"> (q, k)',
         {"q": floats(2, 3, 4, 6), "k": floats(2, 3, 5, 6)}, "Einsum"),
    case(12, "(float[2, 3, 4] a, float[2, 5, 4] b) => (float[2, 5, 3] y)",
         'y = Einsum <equation = "...ij,...kj->...ki"> (a, b)',
         {"a": floats(2, 3, 4), "b": floats(2, 5, 4)}, "Einsum"),
    case(12, "(float[3, 4, 5] a) => (float[5, 3] y)", 'y = Einsum <equation = "ijk->ki"> (a)',
         {"a": floats(3, 4, 5)}, "Einsum"),
    case(12, "(float[4] a, float[4] b) => (float y)", 'y = Einsum <equation = "i,i"> (a, b)',
         {"a": floats(4), "b": floats(4)}, "Einsum"),
    case(12, "(float[3, 4] a, float[5] b) => (float[3, 4, 5] y)",
         'y = Einsum <equation = "ij,k->ijk"> (a, b)',
         {"a": floats(3, 4), "b": floats(5)}, "Einsum"),
    case(20, "(float[3, 5] x) => (float[3, 5] y)", "y = Gelu(x)",
         {"x": floats(3, 5, scale=3)}, "Gelu"),
    case(20, "(float[3, 5] x) => (float[3, 5] y)", 'y = Gelu <approximate = "tanh"> (x)',
         {"x": floats(3, 5, scale=3)}, "Gelu"),
    case(13, "(float[3, 4] x, int64[3, 2] i) => (float[3, 2] y)",
         "y = GatherElements <axis = 1> (x, i)",
         {"x": floats(3, 4), "i": np.array([[0, -1], [3, 1], [-4, 2]], np.int64)},
         "GatherElements"),
    case(13, "(float[3, 4] x, int32[2, 4] i) => (float[2, 4] y)",
         "y = GatherElements <axis = 0> (x, i)",
         {"x": floats(3, 4), "i": np.array([[0, 2, 1, 0], [2, 2, 0, 1]], np.int32)},
         "GatherElements"),
    case(13, "(float[4, 3] x, int64[2, 1] i, float[2, 3] u) => (float[4, 3] y)",
         "y = ScatterND(x, i, u)",
         {"x": floats(4, 3), "i": UNIQUE_ROWS, "u": floats(2, 3)}, "ScatterND"),
    case(18, "(float[2, 3, 4] x, int64[3, 2] i, float[3, 4] u) => (float[2, 3, 4] y)",
         'y = ScatterND <reduction = "add"> (x, i, u)',
         {"x": floats(2, 3, 4), "i": np.array([[1, 2], [0, 0], [1, 2]], np.int64),
          "u": floats(3, 4)}, "ScatterND"),
    case(13, "(int64[8] a, int64[8] b) => (int64[8] y)", "y = Mod(a, b)",
         {"a": np.array([7, -7, 7, -7, 0, 5, -3, 9], np.int64),
          "b": np.array([3, 3, -3, -3, 2, 5, 4, -2], np.int64)}, "Mod"),
    case(13, "(int32[8] a, int32[8] b) => (int32[8] y)", "y = Mod <fmod = 1> (a, b)",
         {"a": np.array([7, -7, 7, -7, 0, 5, -3, 9], np.int32),
          "b": np.array([3, 3, -3, -3, 2, 5, 4, -2], np.int32)}, "Mod"),
    case(13, "(float[6] a, float[6] b) => (float[6] y)", "y = Mod <fmod = 1> (a, b)",
         {"a": np.array([7.5, -7.5, 7.5, -7.5, 0.25, 3.0], np.float32),
          "b": np.array([2, 2, -2, -2, 1, 1.5], np.float32)}, "Mod"),
    case(17, "(float[2, 3, 8] x, float[8] s, float[8] b) => (float[2, 3, 8] y)",
         "y = LayerNormalization(x, s, b)",
         {"x": floats(2, 3, 8, scale=2), "s": floats(8), "b": floats(8)}, "LayerNormalization"),
    case(17, "(float[2, 3, 4] x, float[3, 4] s) => (float[2, 3, 4] y)",
         "y = LayerNormalization <axis = 1, epsilon = 0.01> (x, s)",
         {"x": floats(2, 3, 4), "s": floats(3, 4)}, "LayerNormalization"),
    case(21, "(float[2, 6, 3, 3] x, float[6] s, float[6] b) => (float[2, 6, 3, 3] y)",
         "y = GroupNormalization <num_groups = 3> (x, s, b)",
         {"x": floats(2, 6, 3, 3), "s": floats(6), "b": floats(6)}, "GroupNormalization"),
    case(18, "(float[2, 6, 5] x, float[2] s, float[2] b) => (float[2, 6, 5] y)",
         "y = GroupNormalization <num_groups = 2> (x, s, b)",
         {"x": floats(2, 6, 5), "s": floats(2), "b": floats(2)}, "GroupNormalization"),
    case(14, "(float[4, 5] x) => (float[4, 5] y)", "y = HardSwish(x)",
         {"x": floats(4, 5, scale=4)}, "HardSwish"),
    case(17, "(float[4, 5] x) => (float[4, 5] y)", "y = HardSigmoid <alpha = 0.3, beta = 0.4> (x)",
         {"x": floats(4, 5, scale=4)}, "HardSigmoid"),
    case(17, "(float[4, 5] x) => (float[4, 5] y)", "y = Softplus(x)",
         {"x": floats(4, 5, scale=40)}, "Softplus"),
    case(18, "(float[4, 5] x) => (float[4, 5] y)", "y = Mish(x)",
         {"x": floats(4, 5, scale=4)}, "Mish"),
    case(24, "(float[4, 5] x) => (float[4, 5] y)", "y = Swish <alpha = 1.5> (x)",
         {"x": floats(4, 5, scale=4)}, "Swish"),
    # onnx's function bodies, inlined
    case(18, "(float[4, 6, 3] x, int64[2] s) => (float[3, 8, 3] y)",
         "y = CenterCropPad <axes = [0, 1]> (x, s)",
         {"x": floats(4, 6, 3), "s": np.array([3, 8], np.int64)}, "CenterCropPad"),
    case(13, "(float[3, 5] x, int64[3] t) => (float y)",
         'y = NegativeLogLikelihoodLoss <reduction = "mean"> (x, t)',
         {"x": floats(3, 5), "t": np.array([4, 0, 2], np.int64)}, "NegativeLogLikelihoodLoss"),
    case(13, "(float[3, 5] x, int64[3] t, float[5] w) => (float y)",
         'y = SoftmaxCrossEntropyLoss <reduction = "sum"> (x, t, w)',
         {"x": floats(3, 5), "t": np.array([1, 3, 0], np.int64), "w": floats(5)},
         "SoftmaxCrossEntropyLoss"),
    case(23, "(float[1, 2, 3, 4] x, float[3, 2] c, float[3, 2] n, int64[1, 3] p) => "
         "(float[1, 2, 3, 4] y)", "y = RotaryEmbedding(x, c, n, p)",
         {"x": floats(1, 2, 3, 4), "c": floats(3, 2), "n": floats(3, 2),
          "p": np.array([[2, 0, 1]], np.int64)}, "RotaryEmbedding"),
    case(23, "(float[1, 2, 3, 4] q, float[1, 2, 5, 4] k, float[1, 2, 5, 4] v) => "
         "(float[1, 2, 3, 4] y)", "y = Attention(q, k, v)",
         {"q": floats(1, 2, 3, 4), "k": floats(1, 2, 5, 4), "v": floats(1, 2, 5, 4)},
         "Attention"),
]]


def decompose_and_compare(model, feeds, op, expected):
    result = Decompose(ops=(op,)).run(model, PassContext())
    proto = ir.to_proto(model)
    onnx.checker.check_model(proto, full_check=True)
    assert op not in ops(model), result.findings
    for want, got in zip(expected, run_ort(proto, feeds), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return result


def parse(text):
    # Not model_from_text: GroupNormalization-18 is deprecated, which the checker rejects;
    # ORT runs it.
    return ir.serde.deserialize_model(onnx.parser.parse_model(text))


@pytest.mark.parametrize(("text", "feeds", "op"), CASES)
def test_decomposition_keeps_outputs(text, feeds, op):
    model = parse(text)
    expected = run_ort(model, feeds)
    result = decompose_and_compare(model, feeds, op, expected)
    assert result.modified and not result.findings


@pytest.mark.parametrize(("text", "feeds", "op"), CASES)
def test_replacement_is_valid_at_declared_min_opset(text, feeds, op):
    expected = run_ort(parse(text), feeds)
    low = max(REPLACEMENT_MIN_OPSET[op], 7)  # ONNX Runtime runs opset 7 and up
    lowered = text.replace(text[text.index('"" :'):text.index("]>")], f'"" : {low}')
    # The source op may not exist at `low` yet; the model is only valid once it is gone.
    model = parse(lowered)
    decompose_and_compare(model, feeds, op, expected)


DECLINED = [
    ('y = Einsum <equation = "ii->i"> (a)', "(float[3, 3] a) => (float[3] y)", "diagonal"),
    ('y = Einsum <equation = "ij,jk,kl->il"> (a, a, a)', "(float[3, 3] a) => (float[3, 3] y)",
     "3 operands"),
]


@pytest.mark.parametrize(("body", "signature", "why"), DECLINED)
def test_unsupported_einsum_is_kept_with_reason(body, signature, why):
    model = model_from_text(
        f'<ir_version: 10, opset_import: ["" : 13]>\ng {signature} {{\n{body}\n}}'
    )
    result = Decompose(ops=("Einsum",)).run(model, PassContext())
    assert not result.modified and ops(model) == ["Einsum"]
    [finding] = result.findings
    assert finding.code == "GK505" and why in finding.message
    assert not model.graph.initializers  # a declined build leaves nothing behind


def test_scatter_nd_max_reduction_is_declined():
    model = model_from_text('<ir_version: 10, opset_import: ["" : 18]>\n'
                            'g (float[4] x, int64[1, 1] i, float[1] u) => (float[4] y) {\n'
                            'y = ScatterND <reduction = "max"> (x, i, u)\n}')
    result = Decompose().run(model, PassContext())
    assert "ScatterND" in ops(model) and "reduction 'max'" in result.findings[0].message


def test_table_covers_the_ops_and_unknown_op_is_clear_error():
    assert set(REPLACEMENT_MIN_OPSET) == {d.op for d in DECOMPOSITIONS}
    assert set(CASE_IDS) == set(REPLACEMENT_MIN_OPSET)  # every decomposition has a case
    with pytest.raises(InputError, match="no decomposition for op 'Einsun'"):
        Decompose(ops=("Einsun",))
