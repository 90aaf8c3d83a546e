"""TFLite frontend: the converted graph computes what the LiteRT interpreter computes."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import require, run_ort

tf = require("tensorflow", "tensorflow")
keras = require("keras", "tensorflow")
litert = require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.errors import InputError  # noqa: E402
from graphkit.frontends import _tflite_child  # noqa: E402
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


@pytest.fixture(scope="module")
def small_tflite(tmp_path_factory):
    """A conv net from a tf.function: the file the corruption tests flip bytes in."""
    weights = np.random.default_rng(0).standard_normal((3, 3, 3, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def net(x):
        y = tf.nn.conv2d(x, tf.constant(weights), 1, "SAME")
        return tf.nn.relu(tf.reduce_mean(y, axis=[1, 2]))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()], net)
    path = tmp_path_factory.mktemp("small") / "small.tflite"
    path.write_bytes(converter.convert())
    return path


def _flipped(path, seed: int, out_dir):
    """`path` with 40 seeded bytes XOR-ed, past the 8-byte header (which stays a TFLite one)."""
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    for position in rng.integers(8, len(data), 40):
        data[position] ^= int(rng.integers(1, 256))
    out = out_dir / f"flipped{seed}.tflite"
    out.write_bytes(bytes(data))
    return out


# Load each file in a fresh interpreter: before the fix a corrupt file killed the process
# (SIGSEGV / SIGBUS in TensorFlow's TFLite reader), which would have taken pytest with it.
LOAD_EACH = """
import sys, graphkit
from graphkit.errors import InputError
for path in sys.argv[1:]:
    try:
        graphkit.load(path)
        print("loaded", path)
    except InputError as err:
        print("refused", str(err))
"""


def test_corrupt_flatbuffers_are_input_errors_not_crashes(small_tflite, tmp_path):
    paths = [_flipped(small_tflite, seed, tmp_path) for seed in range(12)]
    done = subprocess.run([sys.executable, "-c", LOAD_EACH, *map(str, paths)],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    lines = done.stdout.splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines, strict=True):
        assert line.startswith(("loaded", f"refused {path}: ")), line


@pytest.mark.parametrize("command", ["inspect", "diagnose", "fix"])
def test_cli_says_a_corrupt_flatbuffer_is_bad_input(small_tflite, tmp_path, command):
    path = _flipped(small_tflite, 3, tmp_path)  # this seed crashed TensorFlow's reader
    extra = {"inspect": [], "diagnose": ["-t", "ort"]}.get(command, ["-t", "ort", "-o", "o.onnx"])
    done = subprocess.run([sys.executable, "-m", "graphkit", command, str(path), *extra],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.splitlines()
    assert line == f"graphkit: error: {path}: not a valid TFLite flatbuffer (LiteRT's verifier " \
        "refuses it)"
    assert not (tmp_path / "o.onnx").exists()


def test_a_crash_of_the_converter_is_an_input_error(small_tflite, monkeypatch):
    """Whatever the verifier lets through and TensorFlow still dies on: the child's signal."""
    real_run = subprocess.run

    def crashing_child(command, **kwargs):
        die = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
        return real_run([sys.executable, "-c", die], **kwargs)

    monkeypatch.setattr(_tflite_child.subprocess, "run", crashing_child)
    with pytest.raises(InputError) as caught:
        graphkit.load(small_tflite)
    assert str(caught.value).startswith(
        f"{small_tflite}: TensorFlow's TFLite reader crashed on this file (SIGSEGV)"
    )
