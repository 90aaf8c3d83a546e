"""Real architectures, built in code, convert to both emitted targets within 1e-4.

Each model goes the whole way a user's does: torch (or Keras) -> ONNX -> graphkit.convert
(fix for the target, emit, validate against ONNX Runtime on the original).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import graphkit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import models  # noqa: E402

TARGETS = {"ort": ".opt.onnx", "torchscript": ".pt"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    return {name: models.export_zoo_model(name, folder / f"{name}.onnx") for name in models.ZOO}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("name", sorted(models.ZOO))
def test_zoo_model_converts_and_matches(exported, tmp_path, name, target):
    artifact = graphkit.convert(exported[name], target, tmp_path / f"{name}{TARGETS[target]}")
    assert artifact.validated, artifact.to_json()["validation"]
    assert max(diff.max_abs for diff in artifact.validation) <= 1e-4


def test_dynamic_sequence_survives_torchscript(exported, tmp_path, rng):
    """BERT's sequence dim stays dynamic: the .pt runs at a length it was not exported at."""
    from graphkit.backends.torchscript.runner import run_artifact
    from graphkit.validation import ModelRunner

    artifact = graphkit.convert(exported["bert"], "torchscript", tmp_path / "bert.pt")
    feeds = {"input_ids": rng.integers(0, 100, (3, 21)).astype(np.int64),
             "attention_mask": np.ones((3, 21), np.int64)}
    expected = ModelRunner(graphkit.load(exported["bert"])).run(feeds)["output"]
    [actual] = run_artifact(artifact.path, feeds).values()
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-4)


def test_keras_mobilenet_v2_through_tf2onnx(tmp_path):
    import keras
    net = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35,
                                         include_top=False, pooling="avg")
    _give_batchnorms_statistics(keras, net)
    source = tmp_path / "mobilenet_v2.onnx"
    graphkit.save(graphkit.load(net), source)
    image = np.random.default_rng(0).random((2, 96, 96, 3)).astype(np.float32)
    features = net(image).numpy()
    assert np.abs(features).mean() > 0.1  # outputs carry signal, so 1e-4 means something
    for target, suffix in TARGETS.items():
        artifact = graphkit.convert(source, target, tmp_path / f"mnv2{suffix}",
                                    inputs={"input": image})
        assert artifact.validated, (target, artifact.to_json()["validation"])
        assert max(diff.max_abs for diff in artifact.validation) <= 1e-4


def _give_batchnorms_statistics(keras, net) -> None:
    """Untrained statistics make the signal vanish across 50 layers (outputs ~1e-11, which
    any converter would "match"); trained-like ones keep it alive."""
    rng = np.random.default_rng(1)
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape),
                               rng.normal(0, 0.1, shape), rng.uniform(0.1, 0.3, shape)])


@pytest.mark.parametrize("target, pin, dims, feed", [
    ("tensorrt", "batch=1", [1, "seq"], (1, 9)),  # seq stays dynamic: fed at another length
    ("tflite", "seq=16", ["batch", 16], (2, 16)),  # tflite needs only seq static here
])
def test_bert_pin_fixes_the_named_dim_only(exported, rng, target, pin, dims, feed):
    from graphkit.validation import ModelRunner

    original = graphkit.load(exported["bert"])
    fixed, report = graphkit.fix(original, target, pin=(pin,))
    assert report.fixed and report.validated, (report.unresolved, report.to_json()["validation"])
    declared = {v.name: [d if isinstance(d, int) else d.value for d in v.shape]
                for v in fixed.graph.inputs}
    assert declared == {"input_ids": dims, "attention_mask": dims}
    feeds = {"input_ids": rng.integers(0, 100, feed).astype(np.int64),
             "attention_mask": np.ones(feed, np.int64)}
    np.testing.assert_allclose(ModelRunner(fixed).run(feeds)["output"],
                               ModelRunner(original).run(feeds)["output"], rtol=1e-4, atol=1e-5)
