"""Keras applications built in code (weights=None) for the TFLite bench and tests.

Random-init classifiers give near-constant outputs, so each model gets trained-like
BatchNormalization statistics and its top removed (global-average features instead):
their outputs move with the input, which makes a 1e-4 comparison mean something.

    export_keras(net, path)  # tf2onnx.convert.from_function with an input signature
    tflite_by_tf(net)        # TF's own TFLiteConverter on the same model
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

KERAS = ("mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0")
# EfficientNetB0: with the default range its activations grow to 1e16, with (0.6, 1.2)
# its outputs hardly move with the input; between them the signal lives
VARIANCE = {"efficientnet_b0": (0.5, 0.9)}


def keras_model(name: str, size: int = 224):
    """The application with `size` x `size` RGB input, top off, average-pooled features."""
    import keras

    keras.utils.set_random_seed(0)  # the same weights every run: comparable benches
    common = dict(weights=None, input_shape=(size, size, 3), include_top=False, pooling="avg")
    if name == "mobilenet_v2":
        net = keras.applications.MobileNetV2(**common)
    elif name == "mobilenet_v3_small":
        net = keras.applications.MobileNetV3Small(**common, include_preprocessing=False)
    elif name == "efficientnet_b0":
        net = keras.applications.EfficientNetB0(**common)
    else:
        raise ValueError(f"no Keras model '{name}' (choose from {', '.join(KERAS)})")
    give_batchnorms_statistics(keras, net, VARIANCE.get(name, (0.1, 0.3)))
    return net


def give_batchnorms_statistics(keras, net, variance: tuple[float, float] = (0.1, 0.3)) -> None:
    """Untrained statistics make the signal vanish across 50 layers; trained-like ones keep
    it alive (`variance`: the range the running variances are drawn from; a larger one
    keeps a deep net's activations from growing layer after layer)."""
    rng = np.random.default_rng(1)
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape),
                               rng.normal(0, 0.1, shape), rng.uniform(*variance, shape)])


def input_signature(net):
    import tensorflow as tf

    return [tf.TensorSpec([1, *net.input_shape[1:]], tf.float32, name="input")]


def export_keras(net, path: str | os.PathLike, opset: int = 17) -> Path:
    """The Keras model through graphkit's TensorFlow frontend: tf2onnx.convert.from_function
    with a fixed-batch input signature (captured constants inlined), saved as ONNX."""
    import graphkit

    path = Path(path)
    graphkit.save(graphkit.load(net, input_signature=input_signature(net), opset=opset), path)
    return path


def tflite_by_tf(net) -> bytes:
    """TF's own TFLiteConverter on the same model (builtins only, no optimizations)."""
    import tensorflow as tf

    signature = input_signature(net)

    @tf.function(input_signature=signature, autograph=False)
    def run(image):
        return {"output": net(image, training=False)}

    # Variables frozen into constants, as from_keras_model does: without it the converter
    # keeps each weight as VAR_HANDLE + READ_VARIABLE.
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(run.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    return converter.convert()
