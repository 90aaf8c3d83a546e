"""outline-gelu: GELU written out below opset 20 becomes a call to a model-local function
(graphkit.fused), which ONNX Runtime inlines: the rewritten model gives the original's
outputs, and the TFLite emitter writes one GELU builtin for it."""

from __future__ import annotations

import collections

import numpy as np
import onnx_ir as ir
import pytest
from conftest import model_from_text, require, run_ort

from graphkit.passes.outline_gelu import FUSED_DOMAIN, OutlineGelu
from graphkit.passmanager import PassContext

EXACT = """
        d = Div (x, sqrt2)
        e = Erf (d)
        a = Add (e, one)
        m = Mul (x, a)
        y = Mul (m, half)"""
TANH = """
        c = Pow (x, three)
        k = Mul (c, coeff)
        s = Add (x, k)
        i = Mul (s, root)
        t = Tanh (i)
        a = Add (t, one)
        h = Mul (x, half)
        y = Mul (h, a)"""


def gelu_model(body: str, opset: int = 17):
    # x feeds the GELU through a MatMul, as in a transformer's MLP
    return model_from_text(f"""<ir_version: 10, opset_import: ["" : {opset}]>
    g (float[2, 8] v, float[8, 8] w) => (float[2, 8] y)
    <float sqrt2 = {{1.4142135}}, float one = {{1.0}}, float half = {{0.5}},
     float three = {{3.0}}, float coeff = {{0.044715}}, float root = {{0.7978846}}>
    {{
        x = MatMul (v, w){body}
    }}""")


def _feeds(rng, dtype=np.float32):
    return {"v": (rng.standard_normal((2, 8)) * 2).astype(dtype),
            "w": rng.standard_normal((8, 8)).astype(dtype)}


@pytest.mark.parametrize(("body", "function"), [(EXACT, "Gelu"), (TANH, "GeluTanh")])
def test_gelu_pieces_become_one_call_with_the_same_outputs(rng, body, function):
    feeds = _feeds(rng)
    expected = run_ort(gelu_model(body), feeds)[0]
    model = gelu_model(body)
    result = OutlineGelu().run(model, PassContext())
    assert result.modified and result.changes
    ops = collections.Counter((node.domain, node.op_type) for node in model.graph)
    assert ops == {("", "MatMul"): 1, (FUSED_DOMAIN, function): 1}
    assert (FUSED_DOMAIN, function, "") in model.functions
    got = run_ort(model, feeds)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert np.ptp(expected) > 1.0  # the GELU sees negative and positive inputs


def test_opset_20_is_left_to_fuse_and_onnx_gelu():
    model = gelu_model(EXACT, opset=20)
    assert not OutlineGelu().run(model, PassContext()).modified
    assert FUSED_DOMAIN not in model.opset_imports


def test_float16_gelu_is_left_as_it_is():
    model = gelu_model(EXACT)
    for value in [*model.graph.inputs, *model.graph.outputs]:
        value.dtype = ir.DataType.FLOAT16
    for value in model.graph.initializers.values():
        value.const_value = ir.Tensor(value.const_value.numpy().astype(np.float16), name=value.name)
        value.dtype = ir.DataType.FLOAT16
    for node in model.graph:
        node.outputs[0].dtype = ir.DataType.FLOAT16
    assert not OutlineGelu().run(model, PassContext()).modified
    assert not model.functions and FUSED_DOMAIN not in model.opset_imports


@pytest.mark.parametrize("body", [EXACT, TANH], ids=["exact", "tanh"])
def test_convert_to_tflite_writes_one_gelu_builtin(tmp_path, rng, body):
    """convert runs outline-gelu (the emitter's PREPARE) and validates the artifact against
    ONNX Runtime on the original model; without it the exact form is Erf's 22 builtins."""
    require("ai_edge_litert.interpreter", "tensorflow")
    import graphkit

    artifact = graphkit.convert(gelu_model(body), "tflite", tmp_path / "m.tflite",
                                inputs=_feeds(rng))
    assert artifact.metadata["builtins"] == {"BATCH_MATMUL": 1, "GELU": 1}
    assert artifact.validation and all(diff.ok for diff in artifact.validation)
