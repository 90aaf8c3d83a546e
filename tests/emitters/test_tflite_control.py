"""ONNX If and Loop as TFLite control flow (IF, WHILE, one subgraph per body), run in
LiteRT against ONNX Runtime on inputs that take every branch and several trip counts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import model_from_text, require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.backends.tflite import _flatbuffer  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402

# Branches read x and w from outside (captures); w is a constant, written into each branch.
IF = """<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x, bool c) => (float[2, 3] y, float[2, 3] z) {
    w = Constant <value = float[3] {1.0, 2.0, 3.0}> ()
    y, z = If (c) <
        then_branch = then_g () => (float[2, 3] a, float[2, 3] x2) {
            a = Mul(x, w)
            x2 = Identity(x)
        },
        else_branch = else_g () => (float[2, 3] b, float[2, 3] e) { b = Sub(x, w) e = Exp(x) }>
}"""

# A carried tensor, a carried counter summing the iteration numbers, a capture (x), a
# scan output stacking each iteration's tensor, and an If nested in the body.
LOOP = """<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x, int64 n) => (float[2, 3] y, int64 k, float[N, 2, 3] rows) {
    t = Constant <value = bool {1}> ()
    zero = Constant <value = int64 {0}> ()
    y, k, rows = Loop (n, t, x, zero) <body = body (int64 i, bool go, float[2, 3] v, int64 kk)
            => (bool go_out, float[2, 3] v_out, int64 k_out, float[2, 3] row) {
        go_out = Identity(go)
        half = Constant <value = float {0.5}> ()
        scaled = Mul(v, half)
        two = Constant <value = int64 {2}> ()
        parity = Mod(i, two)
        odd = Cast <to = 9> (parity)
        v_out = If (odd) <then_branch = odd_g () => (float[2, 3] o) { o = Add(scaled, x) },
                          else_branch = even_g () => (float[2, 3] e) { e = Sub(scaled, x) }>
        k_out = Add(kk, i)
        row = Neg(v_out)
    }>
}"""

# No trip count: the body's condition ends the loop.
UNTIL = """<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x) => (float[2, 3] y) {
    t = Constant <value = bool {1}> ()
    y = Loop ("", t, x) <body = body (int64 i, bool go, float[2, 3] v)
            => (bool more, float[2, 3] w) {
        two = Constant <value = float {2.0}> ()
        w = Mul(v, two)
        total = ReduceSum <keepdims = 0> (w)
        limit = Constant <value = float {100.0}> ()
        more = Less(total, limit)
    }>
}"""


def _compare(model, path, feeds) -> None:
    got = run_artifact(path, feeds)
    for value, want in zip(model.graph.outputs, run_ort(model, feeds), strict=True):
        assert got[value.name].shape == want.shape
        np.testing.assert_allclose(got[value.name], want, rtol=1e-6, atol=1e-6)


def _subgraphs(path) -> int:
    return _flatbuffer.schema().Model.GetRootAs(path.read_bytes(), 0).SubgraphsLength()


def test_if_takes_either_branch(tmp_path, rng):
    model = model_from_text(IF)
    assert graphkit.diagnose(model, "tflite").blockers == []
    artifact = emit(model, tmp_path / "if.tflite")
    assert artifact.metadata["builtins"]["IF"] == 1 and _subgraphs(artifact.path) == 3
    for condition in (True, False):
        x = rng.standard_normal((2, 3)).astype(np.float32)
        _compare(model, artifact.path, {"x": x, "c": np.array(condition)})


@pytest.mark.parametrize("trips", [0, 1, 4])
def test_loop_with_carried_values_a_scan_and_a_nested_if(tmp_path, rng, trips):
    model = model_from_text(LOOP)
    assert graphkit.diagnose(model, "tflite").blockers == []
    artifact = emit(model, tmp_path / "loop.tflite")
    # main, the WHILE's condition and body, the nested IF's two branches
    assert artifact.metadata["builtins"]["WHILE"] == 1 and _subgraphs(artifact.path) == 5
    x = rng.standard_normal((2, 3)).astype(np.float32)
    _compare(model, artifact.path, {"x": x, "n": np.array(trips, np.int64)})


def test_loop_until_its_condition_is_false(tmp_path, rng):
    model = model_from_text(UNTIL)
    path = emit(model, tmp_path / "until.tflite").path
    _compare(model, path, {"x": np.abs(rng.standard_normal((2, 3))).astype(np.float32) + 0.1})


def test_a_node_a_body_cannot_lower_is_refused_alike_by_diagnose_and_emit(tmp_path):
    model = model_from_text(IF.replace("e = Exp(x)", "e = Det(x)"))
    blockers = graphkit.diagnose(model, "tflite").blockers
    assert [f.op for f in blockers] == ["Det"]
    with pytest.raises(InputError, match="Det"):
        emit(model, tmp_path / "if.tflite")
