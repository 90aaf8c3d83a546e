"""The proofs' runner: light models (weights fed as inputs) and the reference on a worker."""

from __future__ import annotations

import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, run_ort

import graphkit
from graphkit.errors import InputError
from graphkit.proof import Reference
from graphkit.runner import LightModel, ModelRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import models  # noqa: E402


def _linear(weight: np.ndarray, *, overridable: bool = False) -> ir.Model:
    """y = x @ W + b with a 64x64 float W (large enough to be fed) and a small b."""
    x = ir.Value(name="x", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape([2, 64]))
    w = ir.Value(name="W", const_value=ir.tensor(weight, name="W"),
                 type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape(weight.shape))
    b = ir.Value(name="b", const_value=ir.tensor(np.ones(64, np.float32), name="b"),
                 type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape([64]))
    matmul = ir.node("MatMul", [x, w])
    add = ir.node("Add", [matmul.outputs[0], b])
    add.outputs[0].name = "y"
    graph = ir.Graph([x, w] if overridable else [x], add.outputs, nodes=[matmul, add],
                     initializers=[w, b], opset_imports={"": 17})
    return ir.Model(graph, ir_version=10)


@pytest.fixture(scope="module")
def transformer(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "transformer2.onnx"
    return graphkit.load(models.transformer_onnx(path, blocks=2))


def test_light_model_feeds_the_large_weights_and_keeps_the_small_ones(transformer):
    light = LightModel.of(transformer)
    inline = {t.name for t in light.proto.graph.initializer}
    sizes = {v.name: v.const_value.nbytes for v in transformer.graph.initializers.values()}
    assert set(light.weights) == {name for name, size in sizes.items() if size > 4096}
    assert inline == {name for name, size in sizes.items() if size <= 4096}
    assert {v.name for v in light.proto.graph.input} == {"x", *light.weights}


def test_integer_shape_tensors_stay_constants():
    # ORT and shape inference need the values of the tensors that hold shapes.
    model = model_from_text("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[4096] x) => (float[64, 64] y) <int64[2] shape = {64, 64}> {
            y = Reshape(x, shape)
        }
    """)
    assert LightModel.of(model).weights == {}


def test_light_runner_agrees_with_the_full_proto(transformer):
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 128, 256)).astype(np.float32)}
    full = ModelRunner(transformer).run(feeds)["y"]
    light_runner = ModelRunner(LightModel.of(transformer))
    light = light_runner.run(feeds)["y"]
    assert light_runner.runtime == "onnxruntime"
    # ORT pre-packs constant MatMul weights only, so the order of accumulation may differ.
    np.testing.assert_allclose(light, full, rtol=1e-5, atol=1e-5)


def test_full_proto_puts_the_weights_back(transformer):
    proto = LightModel.of(transformer).full_proto()
    onnx.checker.check_model(proto)
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 128, 256)).astype(np.float32)}
    assert np.array_equal(run_ort(proto, feeds)[0], run_ort(transformer, feeds)[0])


def test_a_weight_that_is_also_an_input_keeps_its_default_and_can_be_overridden():
    weight = np.random.default_rng(2).standard_normal((64, 64)).astype(np.float32)
    model = _linear(weight, overridable=True)
    light = LightModel.of(model)
    assert "W" in light.overridable
    x = np.random.default_rng(3).standard_normal((2, 64)).astype(np.float32)
    runner = ModelRunner(light)
    np.testing.assert_allclose(runner.run({"x": x})["y"], x @ weight + 1, rtol=1e-5, atol=1e-5)
    other = np.eye(64, dtype=np.float32)
    np.testing.assert_allclose(runner.run({"x": x, "W": other})["y"], x + 1, rtol=1e-6)
    assert [v.name for v in light.full_proto().graph.input] == ["x", "W"]


def test_weights_numpy_cannot_feed_stay_inline():
    big = np.linspace(0, 1, 4096, dtype=np.float32).astype(ml_dtypes.bfloat16)
    x = ir.Value(name="x", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape([4096]))
    wb = ir.Value(name="wb", const_value=ir.tensor(big, name="wb"),
                  type=ir.TensorType(ir.DataType.BFLOAT16), shape=ir.Shape([4096]))
    cast = ir.node("Cast", [wb], attributes={"to": ir.DataType.FLOAT})
    add = ir.node("Add", [x, cast.outputs[0]])
    add.outputs[0].name = "y"
    model = ir.Model(ir.Graph([x], add.outputs, nodes=[cast, add], initializers=[wb],
                              opset_imports={"": 17}), ir_version=10)
    light = LightModel.of(model)
    assert light.weights == {}
    assert "wb" in {t.name for t in light.proto.graph.initializer}
    expected = big.astype(np.float32)
    zeros = np.zeros(4096, np.float32)
    np.testing.assert_allclose(ModelRunner(light).run({"x": zeros})["y"], expected)


def test_runner_falls_back_to_the_full_proto_when_ort_refuses_the_light_one(monkeypatch):
    weight = np.random.default_rng(4).standard_normal((64, 64)).astype(np.float32)
    model = _linear(weight)
    opened_with = []
    original_open = ModelRunner._open_ort

    def picky_open(self, weights):
        opened_with.append(sorted(weights))
        if weights:  # as an ORT kernel that wants its weight to be a constant would
            raise RuntimeError("W must be a constant initializer")
        return original_open(self, weights)

    monkeypatch.setattr(ModelRunner, "_open_ort", picky_open)
    runner = ModelRunner(LightModel.of(model))
    assert opened_with == [["W"], []]
    assert "W" in {t.name for t in runner.proto.graph.initializer}
    x = np.random.default_rng(5).standard_normal((2, 64)).astype(np.float32)
    np.testing.assert_allclose(runner.run({"x": x})["y"], x @ weight + 1, rtol=1e-5, atol=1e-5)


def test_reference_sees_the_model_as_it_was_when_started():
    weight = np.random.default_rng(6).standard_normal((64, 64)).astype(np.float32)
    model = _linear(weight)
    x = np.random.default_rng(7).standard_normal((2, 64)).astype(np.float32)
    reference = Reference.of(model, inputs={"x": x})
    # Rewrite the model at once, while the worker may still be running the copy.
    add = model.graph.node(1)
    add.replace_input_with(1, add.inputs[0])
    model.graph.initializers["W"].const_value = ir.tensor(np.zeros((64, 64), np.float32))
    result = reference.result()
    np.testing.assert_allclose(result.outputs["y"], x @ weight + 1, rtol=1e-5, atol=1e-5)
    assert result.runtime == "onnxruntime" and result.feeds["x"] is not None


def test_reference_tries_candidate_shapes_until_one_runs(transformer):
    result = Reference.of(transformer).result()
    assert result.feeds["x"].shape == (1, 128, 256)  # seq=1 fails: 128 is baked in
    expected = ModelRunner(LightModel.of(transformer)).run(result.feeds)
    assert np.array_equal(result.outputs["y"], expected["y"])


def test_reference_errors_name_the_problem():
    model = model_from_text("""
        <ir_version: 10, opset_import: ["" : 17]>
        g (float[n] x) => (float[7, 3] y) {
            shape = Constant <value = int64[2] {7, 3}> ()
            y = Reshape(x, shape)
        }
    """)
    with pytest.raises(InputError, match="could not find input shapes"):
        Reference.of(model).result()
    with pytest.raises(InputError, match="does not run on the given inputs"):
        Reference.of(model, inputs={"x": np.zeros(5, np.float32)}).result()
    ok = Reference.of(model, inputs={"x": np.arange(21, dtype=np.float32)}).result()
    assert ok.outputs["y"].shape == (7, 3)


def test_restore_gives_back_an_independent_model_with_every_field(transformer):
    transformer.metadata_props["origin"] = "test"
    transformer.producer_name = "pytorch"
    light = LightModel.of(transformer)
    restored = light.restore()
    assert restored.metadata_props["origin"] == "test" and restored.producer_name == "pytorch"
    assert set(restored.graph.initializers) == set(transformer.graph.initializers)
    assert [v.name for v in restored.graph.inputs] == [v.name for v in transformer.graph.inputs]
    onnx.checker.check_model(ir.to_proto(restored))
    feeds = {"x": np.random.default_rng(8).standard_normal((1, 128, 256)).astype(np.float32)}
    assert np.array_equal(run_ort(restored, feeds)[0], run_ort(transformer, feeds)[0])
    nodes = len(transformer.graph)
    restored.graph.remove(restored.graph.node(0), safe=False)
    assert len(transformer.graph) == nodes


def test_restore_keeps_external_weights_external(tmp_path):
    weight = np.random.default_rng(9).standard_normal((64, 64)).astype(np.float32)
    proto = ir.to_proto(_linear(weight))
    onnx.save(proto, tmp_path / "m.onnx", save_as_external_data=True, location="m.data",
              size_threshold=1024)
    model = graphkit.load(tmp_path / "m.onnx")
    restored = LightModel.of(model).restore()
    tensor = restored.graph.initializers["W"].const_value
    assert isinstance(tensor, ir.ExternalTensor) and Path(tensor.base_dir) == tmp_path
    np.testing.assert_array_equal(tensor.numpy(), weight)


def test_a_later_capture_reuses_the_arrays_of_tensors_it_shares():
    rng = np.random.default_rng(0)
    model = _linear(rng.standard_normal((64, 64)).astype(np.float32))
    first = LightModel.of(model)
    same = LightModel.of(model, reuse=first)
    assert same.weights["W"] is first.weights["W"]  # not read out of the tensor again
    replaced = rng.standard_normal((64, 64)).astype(np.float32)
    model.graph.initializers["W"].const_value = ir.tensor(replaced, name="W")  # a new tensor
    changed = LightModel.of(model, reuse=first)
    np.testing.assert_array_equal(changed.weights["W"], replaced)
    x = {"x": rng.standard_normal((2, 64)).astype(np.float32)}
    np.testing.assert_allclose(ModelRunner(changed).run(x)["y"], x["x"] @ replaced + 1,
                               rtol=1e-5, atol=1e-5)
