"""Generic node traits (int64, float64, value-dependent shapes, Shape-fed inputs)."""

import numpy as np
from conftest import model_from_text, run_ort

import graphkit
from graphkit.findings import Severity
from graphkit.targets.checks import GenericChecks


class Strict:
    """A target that minds every generic trait, as a static-shape int32 accelerator would."""

    name = "strict"
    description = "test target"
    checks = GenericChecks(int64=Severity.ERROR, float64=Severity.ERROR,
                           data_dependent_shape=Severity.ERROR, shape_subgraph=Severity.WARNING)

    def opset_range(self):
        return (1, 30)

    def check_model(self, model):
        return []

    def check_node(self, node, ctx):
        return self.checks.check(node, ctx, self.name)


MODEL = """
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[2, N] x, int64[2] target_shape) => (float[N, 2] y, int64[K, 2] where, float[2, N] z) {
        one = Constant <value = int64[1] {1}> ()
        two = Constant <value = int64[1] {2}> ()
        s = Shape(x)
        s0 = Gather <axis = 0> (s, one)
        new_shape = Concat <axis = 0> (s0, two)
        y = Reshape(x, new_shape)
        nz = NonZero(x)
        where = Transpose(nz)
        z = Reshape(x, target_shape)
    }"""


def by_node(report):
    return {(f.op, f.code): f for f in report.findings}


def test_each_trait_is_reported_on_the_node_that_has_it():
    model = model_from_text(MODEL)
    found = by_node(graphkit.diagnose(model, Strict()))
    # Reshape fed by Shape arithmetic: folds once N is pinned, so not data-dependent.
    assert found[("Reshape", "GK304")].fix == "pin-shapes"
    assert found[("Reshape", "GK304")].severity is Severity.WARNING
    assert "'new_shape'" in found[("Reshape", "GK304")].message
    assert found[("NonZero", "GK302")].message.startswith("NonZero's output shape depends")
    # Reshape fed by a graph input: really data-dependent.
    assert "'target_shape'" in found[("Reshape", "GK302")].message
    assert "output 'nz' is int64" in found[("NonZero", "GK201")].message
    assert found[("Shape", "GK201")].fix == "int64-to-int32"
    assert not any(code == "GK202" for _, code in found)  # nothing here is float64


def test_the_model_really_has_those_shapes():
    model = model_from_text(MODEL)
    x = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 5.0]], np.float32)
    y, where, z = run_ort(model, {"x": x, "target_shape": np.array([3, 2], np.int64)})
    assert y.shape == (3, 2) and where.shape == (4, 2) and z.shape == (3, 2)


def test_float64_and_constant_shapes():
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (double[2, 3] x) => (double[3, 2] y) {
            shape = Constant <value = int64[2] {3, 2}> ()
            y = Reshape(x, shape)
        }""")
    found = by_node(graphkit.diagnose(model, Strict()))
    assert set(found) == {("Reshape", "GK202"), ("Reshape", "GK201"), ("Constant", "GK201")}
    assert "input 'x' and output 'y' are double" in found[("Reshape", "GK202")].message
    assert graphkit.diagnose(model, "ort").convertible  # ORT minds none of it


def test_ort_minds_no_generic_trait():
    model = model_from_text(MODEL)
    report = graphkit.diagnose(model, "ort")
    assert report.convertible and report.findings == []
