"""onnx-ir passes run under graphkit's proof through OnnxIRPass, outputs compared on real inputs."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from conftest import model_from_text, ops, run_ort
from onnx_ir.passes.common import CommonSubexpressionEliminationPass, IdentityEliminationPass

from graphkit.adapters import OnnxIRPass
from graphkit.passmanager import PassManager, Validation

TWICE = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 8] x) => (float[2, 8] y) {
    a = Relu(x)
    b = Relu(x)
    i = Identity(b)
    y = Add(a, i)
}
"""


def _x(rng) -> np.ndarray:
    return rng.standard_normal((2, 8)).astype(np.float32)


def test_an_onnx_ir_pass_runs_proven_and_keeps_the_outputs(rng):
    model, x = model_from_text(TWICE), _x(rng)
    [before] = run_ort(model, {"x": x})
    fixed, report = PassManager([OnnxIRPass(CommonSubexpressionEliminationPass())],
                                validation=Validation(inputs={"x": x})).run(model)
    assert ops(fixed).count("Relu") == 1
    [record] = report.passes
    assert record.name == "onnx-ir:CommonSubexpressionEliminationPass"
    assert record.modified and not record.rolled_back and record.nodes_after < record.nodes_before
    assert report.validated
    np.testing.assert_array_equal(run_ort(fixed, {"x": x})[0], before)


class _ReluToSigmoid(ir.passes.InPlacePass):
    """A wrong onnx-ir pass: the proof must undo it."""

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        for node in model.graph:
            if node.op_type == "Relu":
                node.op_type = "Sigmoid"
        return ir.passes.PassResult(model, modified=True)


def test_a_wrong_onnx_ir_pass_is_rolled_back(rng):
    model, x = model_from_text(TWICE), _x(rng)
    [before] = run_ort(model, {"x": x})
    fixed, report = PassManager([OnnxIRPass(_ReluToSigmoid())],
                                validation=Validation(inputs={"x": x})).run(model)
    assert report.passes[0].rolled_back and "Sigmoid" not in ops(fixed)
    assert any(f.code == "GK501" and "_ReluToSigmoid" in f.message for f in report.findings)
    np.testing.assert_array_equal(run_ort(fixed, {"x": x})[0], before)


class _IdentityEliminationOnACopy(ir.passes.FunctionalPass):
    """A functional onnx-ir pass: returns a new model and leaves its input alone."""

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        copy = ir.serde.deserialize_model(ir.serde.serialize_model(model))
        return IdentityEliminationPass()(copy)


def test_a_functional_onnx_ir_pass_is_adopted_into_the_model_the_manager_holds(rng):
    model, x = model_from_text(TWICE), _x(rng)
    [before] = run_ort(model, {"x": x})
    fixed, report = PassManager([OnnxIRPass(_IdentityEliminationOnACopy())],
                                validation=Validation(inputs={"x": x})).run(model)
    assert "Identity" not in ops(fixed) and report.validated
    assert report.passes[0].modified and not report.passes[0].rolled_back
    np.testing.assert_array_equal(run_ort(fixed, {"x": x})[0], before)


def test_an_onnx_ir_pass_that_changes_nothing_says_so():
    model = model_from_text(TWICE.replace("i = Identity(b)\n", "").replace("(a, i)", "(a, b)"))
    fixed, report = PassManager([OnnxIRPass(IdentityEliminationPass())]).run(model)
    assert not report.passes[0].modified and report.passes[0].changes == []
    assert ops(fixed) == ["Relu", "Relu", "Add"]
