"""TensorFlow frontend: converted graphs compute what Keras / TensorFlow compute, on real inputs.

Models are built once per module: importing TensorFlow and building them dominates the time.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest
from conftest import require, run_ort

tf = require("tensorflow", "tensorflow")
keras = require("keras", "tensorflow")
require("tf2onnx", "tensorflow")

import graphkit  # noqa: E402
from graphkit.errors import InputError, MissingDependencyError, UnsafeModelError  # noqa: E402
from graphkit.frontends._provenance import read_provenance  # noqa: E402

ATOL = 1e-4


def _max_err(got: np.ndarray, expected) -> float:
    expected = expected.numpy() if hasattr(expected, "numpy") else np.asarray(expected)
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


@pytest.fixture(scope="module")
def cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3), name="image"),
            keras.layers.Conv2D(8, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5),
        ]
    )


@pytest.fixture(scope="module")
def two_headed():
    """Functional model: two named inputs, two named outputs."""
    keras.utils.set_random_seed(1)
    image = keras.Input((12, 12, 3), name="image")
    meta = keras.Input((4,), name="meta")
    h = keras.layers.Conv2D(6, 3, activation="relu")(image)
    h = keras.layers.GlobalAveragePooling2D()(h)
    logits = keras.layers.Dense(3, name="logits")(keras.layers.Concatenate()([h, meta]))
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(h)
    return keras.Model([image, meta], [logits, score])


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 16, 16, 3)).astype(np.float32)


def test_sequential_cnn_matches_keras_at_two_batch_sizes(cnn, images):
    model = graphkit.load(cnn, opset=17)
    assert [v.name for v in model.graph.inputs] == ["image"]
    assert [str(d) for d in model.graph.inputs[0].shape] == ["batch", "16", "16", "3"]
    assert [str(d) for d in model.graph.outputs[0].shape] == ["batch", "5"]
    for batch in (1, 3):
        (got,) = run_ort(model, {"image": images[:batch]})
        assert _max_err(got, cnn(images[:batch], training=False)) <= ATOL
    meta = read_provenance(model)
    assert meta["framework"] == "keras" and meta["framework_version"] == keras.__version__
    assert meta["exporter"] == "tf2onnx" and meta["opset"] == "17"


def test_functional_model_keeps_input_and_output_names(two_headed):
    rng = np.random.default_rng(1)
    image = rng.standard_normal((2, 12, 12, 3)).astype(np.float32)
    meta = rng.standard_normal((2, 4)).astype(np.float32)
    model = graphkit.load(two_headed)
    assert [v.name for v in model.graph.inputs] == ["image", "meta"]
    assert [v.name for v in model.graph.outputs] == ["logits", "score"]
    got = run_ort(model, {"image": image, "meta": meta})
    expected = two_headed([image, meta], training=False)
    assert max(_max_err(g, e) for g, e in zip(got, expected, strict=True)) <= ATOL


def test_inputs_as_nchw_changes_the_layout(two_headed):
    rng = np.random.default_rng(2)
    image = rng.standard_normal((2, 12, 12, 3)).astype(np.float32)
    meta = rng.standard_normal((2, 4)).astype(np.float32)
    model = graphkit.load(two_headed, inputs_as_nchw=["image"])
    assert list(model.graph.inputs[0].shape)[1:] == [3, 12, 12]
    assert list(model.graph.inputs[1].shape)[1:] == [4]
    got = run_ort(model, {"image": image.transpose(0, 3, 1, 2), "meta": meta})
    expected = two_headed([image, meta], training=False)
    assert max(_max_err(g, e) for g, e in zip(got, expected, strict=True)) <= ATOL


def test_mobilenet_v2(images):
    keras.utils.set_random_seed(2)
    net = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3),
        alpha=0.35,
        weights=None,
        classes=10,
        classifier_activation=None,
    )
    x = np.random.default_rng(3).standard_normal((2, 96, 96, 3)).astype(np.float32)
    model = graphkit.load(net)
    (got,) = run_ort(model, {model.graph.inputs[0].name: x})
    assert _max_err(got, net(x, training=False)) <= ATOL


def test_tf_function_and_its_concrete_function():
    kernel = tf.constant(np.random.default_rng(4).standard_normal((3, 3, 2, 4)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec((None, 10, 10, 2), tf.float32, name="x")])
    def features(x):
        y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        return tf.nn.softmax(tf.reduce_mean(y, axis=[1, 2])), tf.reduce_max(y, axis=-1)

    x = np.random.default_rng(5).standard_normal((2, 10, 10, 2)).astype(np.float32)
    expected = features(x)
    for source in (features, features.get_concrete_function()):
        model = graphkit.load(source)
        assert [v.name for v in model.graph.outputs] == ["output_0", "output_1"]
        assert [str(d) for d in model.graph.inputs[0].shape] == ["x_dim0", "10", "10", "2"]
        got = run_ort(model, {"x": x})
        assert max(_max_err(g, e) for g, e in zip(got, expected, strict=True)) <= ATOL


class Scaler(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(np.random.default_rng(6).standard_normal((4, 3)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="feat")])
    def __call__(self, feat):
        return {"proj": tf.tanh(tf.matmul(feat, self.w))}


def test_saved_model_folder(tmp_path):
    module = Scaler()
    folder = tmp_path / "saved"
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.__call__})
    before = hashlib.sha256((folder / "saved_model.pb").read_bytes()).hexdigest()
    x = np.random.default_rng(7).standard_normal((5, 4)).astype(np.float32)

    model = graphkit.load(folder)
    assert [v.name for v in model.graph.inputs] == ["feat"]
    assert [v.name for v in model.graph.outputs] == ["proj"]
    (got,) = run_ort(model, {"feat": x})
    assert _max_err(got, module(x)["proj"]) <= ATOL
    assert read_provenance(model)["framework"] == "tensorflow"
    assert hashlib.sha256((folder / "saved_model.pb").read_bytes()).hexdigest() == before
    with pytest.raises(InputError, match="no signature 'predict'"):
        graphkit.load(folder, signature="predict")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_file(tmp_path, cnn, images, suffix):
    path = tmp_path / f"cnn{suffix}"
    cnn.save(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    model = graphkit.load(path)
    (got,) = run_ort(model, {"image": images})
    assert _max_err(got, cnn(images, training=False)) <= ATOL
    assert read_provenance(model)["source"] == str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_keras_file_with_python_code_is_refused(tmp_path):
    net = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2.0)])
    path = tmp_path / "lambda.keras"
    net.save(path)
    with pytest.raises(UnsafeModelError, match="lambda.keras: refusing to load"):
        graphkit.load(path)


def test_subclassed_model_needs_and_takes_an_input_signature():
    class Head(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    head = Head()
    with pytest.raises(InputError, match="input_signature"):
        graphkit.load(head)
    x = np.random.default_rng(8).standard_normal((3, 5)).astype(np.float32)
    head(x)  # build the weights
    model = graphkit.load(head, input_signature=[tf.TensorSpec((None, 5), tf.float32, name="x")])
    (got,) = run_ort(model, {"x": x})
    assert _max_err(got, head(x)) <= ATOL


def test_unconverted_op_is_named():
    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="x")])
    def special(x):
        return tf.math.igamma(x, x) + 1.0

    with pytest.raises(
        InputError,
        match=r"special: tf2onnx could not convert 1 node\(s\) of op"
        r"\(s\) Igamma",
    ):
        graphkit.load(special)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"inputs_as_nchw": ["picture"]}, "inputs_as_nchw"),
        ({"inputs_as_nchw": ["meta"]}, "inputs_as_nchw"),  # rank 2
        ({"inputs_as_nchw": "image"}, "inputs_as_nchw"),
        ({"opset": "17"}, "opset"),
        ({"input_signature": [(None, 4)]}, "input_signature"),
        ({"dynamic_axes": {}}, "dynamic_axes"),
    ],
)
def test_wrong_options_name_the_option(two_headed, options, named):
    with pytest.raises(InputError, match=f"'{named}'"):
        graphkit.load(two_headed, **options)


def test_missing_tf2onnx_is_a_missing_dependency(monkeypatch, cnn):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(MissingDependencyError, match="'tf2onnx'"):
        graphkit.load(cnn)
