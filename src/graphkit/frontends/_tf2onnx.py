"""The tf2onnx call that the TensorFlow and TFLite frontends share, and its checks.

tf2onnx keeps converting past ops it cannot translate and ignores `inputs_as_nchw`
names it does not find or inputs that are not rank 4; each of these would give a
silently different model, so each is checked here and refused with one line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit.errors import InputError, MissingDependencyError, first_line
from graphkit.frontends._common import check_fully_converted
from graphkit.ir import model_from_proto


def import_tensorflow():
    """tensorflow and tf2onnx, or a MissingDependencyError naming the one that is absent."""
    try:
        import tensorflow as tf
    except ImportError:
        raise MissingDependencyError(
            "tensorflow-cpu", "tensorflow", "loading a TensorFlow, Keras or TFLite model"
        ) from None
    try:
        import tf2onnx
    except ImportError:
        raise MissingDependencyError(
            "tf2onnx", "tensorflow", "converting a TensorFlow, Keras or TFLite model to ONNX"
        ) from None
    return tf, tf2onnx


def check_tensorflow_installed() -> None:
    """What import_tensorflow says of a missing package, without importing TensorFlow (3 s),
    for conversions that run in a child process."""
    if importlib.util.find_spec("tensorflow") is None:
        raise MissingDependencyError("tensorflow-cpu", "tensorflow", "loading a TFLite model")
    if importlib.util.find_spec("tf2onnx") is None:
        raise MissingDependencyError("tf2onnx", "tensorflow", "converting a TFLite model to ONNX")


def check_nchw_names(names: Any, ranks: dict[str, int | None]) -> list[str]:
    """`inputs_as_nchw` must list rank-4 inputs by the names the ONNX model will show."""
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InputError(f"option 'inputs_as_nchw' must be a list of input names, got {names!r}")
    for name in names:
        if name not in ranks:
            raise InputError(
                f"option 'inputs_as_nchw' names {name!r}, which is not an input "
                f"(inputs: {', '.join(ranks)})"
            )
        if ranks[name] != 4:
            raise InputError(
                f"option 'inputs_as_nchw' names {name!r}, of rank {ranks[name]}: "
                "only rank-4 (NHWC image) inputs can be made NCHW"
            )
    return list(names)


@contextlib.contextmanager
def quiet_tf2onnx() -> Iterator[None]:
    # tf2onnx logs each op it cannot convert; graphkit reports them itself, in one line.
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            # tf2onnx reads TFLite shapes through tf.lite.Interpreter, which warns of its end.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            yield
    finally:
        logger.setLevel(level)


def run_tf2onnx(convert: Callable[..., Any], source: str, **kwargs: Any) -> ir.Model:
    """Call one tf2onnx.convert entry point and return a checked onnx-ir Model."""
    try:
        with quiet_tf2onnx():
            proto, external = convert(**kwargs)
    except InputError:
        raise
    except Exception as err:  # tf2onnx and TensorFlow raise many types; all mean "cannot"
        raise InputError(f"{source}: tf2onnx failed: {first_line(err)}") from None
    if external is not None and getattr(external, "name_to_tensor_data", None):
        raise InputError(f"{source}: tf2onnx returned external tensors; graphkit takes none")
    model = model_from_proto(proto, origin=source)
    check_fully_converted(model, source, "tf2onnx")
    return model


def inline_captured_constants(model: ir.Model, concrete: Any, declared: int, source: str) -> None:
    """Turn the graph inputs that tf2onnx made of captured eager tensors into initializers.

    A tf.function that closes over a tf.constant gets it as an extra placeholder input;
    tf2onnx freezes variables (resource captures) but keeps such a placeholder as a model
    input that no caller could know to feed. Its value is the captured tensor.
    """
    captured = {
        tensor.name: value
        for tensor, value in zip(concrete.inputs[declared:], concrete.captured_inputs, strict=True)
    }
    graph = model.graph
    for value in list(graph.inputs[declared:]):
        if value.name not in captured:
            raise InputError(f"{source}: tf2onnx made an unexpected input {value.name!r}")
        array = np.asarray(captured[value.name].numpy())
        graph.inputs.remove(value)
        value.const_value = ir.tensor(array, name=value.name)
        graph.register_initializer(value)


def name_unknown_dims(model: ir.Model, *, batch_first: bool) -> None:
    """Replace tf2onnx's run-numbered dim names ("unk__14") on graph inputs and outputs.

    Names that change from one conversion to the next cannot be pinned by name
    (`fix --pin`) or compared across runs. With batch_first (Keras, whose None
    leading dim is the batch by definition) axis 0 becomes "batch"; every other
    unknown dim becomes "<value>_dim<axis>".
    """
    for value in (*model.graph.inputs, *model.graph.outputs):
        if value.shape is None:
            continue
        dims = [
            _dim_name(value.name, axis, dim, batch_first) for axis, dim in enumerate(value.shape)
        ]
        value.shape = ir.Shape(dims)


def _dim_name(value: str, axis: int, dim: Any, batch_first: bool) -> Any:
    text = getattr(dim, "value", dim)
    if not isinstance(text, str) or not text.startswith("unk__"):
        return dim
    return "batch" if batch_first and axis == 0 else f"{value}_dim{axis}"
