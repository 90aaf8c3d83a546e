"""TFLite frontend: the converted graph computes what the LiteRT interpreter computes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import require, run_ort

tf = require("tensorflow", "tensorflow")
keras = require("keras", "tensorflow")
litert = require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.errors import InputError  # noqa: E402
from graphkit.frontends._provenance import read_provenance  # noqa: E402

ATOL = 1e-4


@pytest.fixture(scope="module")
def tflite_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((12, 12, 3), name="image", batch_size=2),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.DepthwiseConv2D(3, padding="same"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("tflite") / "net.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(net).convert())
    return path


def _litert_outputs(path, image: np.ndarray) -> dict[str, np.ndarray]:
    interpreter = litert.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (entry,) = interpreter.get_input_details()
    interpreter.set_tensor(entry["index"], image)
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).standard_normal((2, 12, 12, 3)).astype(np.float32)


def test_matches_litert(tflite_file, image):
    before = hashlib.sha256(tflite_file.read_bytes()).hexdigest()
    model = graphkit.load(tflite_file, opset=17)
    expected = _litert_outputs(tflite_file, image)
    names = [v.name for v in model.graph.outputs]
    assert names == list(expected)
    got = run_ort(model, {model.graph.inputs[0].name: image})
    for name, value in zip(names, got, strict=True):
        assert value.shape == expected[name].shape
        assert np.abs(value - expected[name]).max() <= ATOL
    meta = read_provenance(model)
    assert (meta["framework"], meta["exporter"], meta["opset"]) == ("tflite", "tf2onnx", "17")
    assert hashlib.sha256(tflite_file.read_bytes()).hexdigest() == before


def test_inputs_as_nchw(tflite_file, image):
    plain = graphkit.load(tflite_file)
    name = plain.graph.inputs[0].name
    model = graphkit.load(tflite_file, inputs_as_nchw=[name])
    assert list(model.graph.inputs[0].shape) == [2, 3, 12, 12]
    (got,) = run_ort(model, {name: image.transpose(0, 3, 1, 2)})
    (expected,) = _litert_outputs(tflite_file, image).values()
    assert np.abs(got - expected).max() <= ATOL


def test_unknown_nchw_input_is_named(tflite_file):
    with pytest.raises(InputError, match="'inputs_as_nchw' names 'picture'"):
        graphkit.load(tflite_file, inputs_as_nchw=["picture"])


def test_not_a_flatbuffer(tmp_path):
    path = tmp_path / "fake.tflite"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="fake.tflite: not a TFLite flatbuffer"):
        graphkit.load(path)


def test_unknown_option_is_named(tflite_file):
    with pytest.raises(InputError, match="'example_inputs'"):
        graphkit.load(tflite_file, example_inputs=np.zeros(3))
