"""TensorFlow frontend: what ONNX graph does tf2onnx make of a Keras model, function or SavedModel?

    graphkit.load(keras_model)                        # signature from model.inputs
    graphkit.load(tf_function)                        # its input_signature
    graphkit.load("saved_model_dir", signature="serving_default")
    graphkit.load("model.keras", inputs_as_nchw=["image"], opset=17)

Every source becomes one tf.function with a full input signature whose outputs are a
dict, so that ONNX inputs and outputs carry readable names (Keras input names,
Keras output names, signature keys; else "input"/"output" with an index), and goes
through `tf2onnx.convert.from_function`. Keras files load with safe_mode=True: a
file that carries Python code (a Lambda layer) is refused. Layouts stay as in
TensorFlow (NHWC) unless `inputs_as_nchw` lists inputs to take as NCHW.

Options: opset, inputs_as_nchw, input_signature (a list of tf.TensorSpec, for a
subclassed Keras model or a tf.function without one), signature (SavedModel only).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx_ir as ir

from graphkit._progress import step
from graphkit.errors import InputError, UnsafeModelError, first_line
from graphkit.frontends._common import check_opset, check_option_names, default_names
from graphkit.frontends._provenance import Provenance, stamp
from graphkit.frontends._tf2onnx import (
    check_nchw_names,
    import_tensorflow,
    inline_captured_constants,
    name_unknown_dims,
    run_tf2onnx,
)
from graphkit.ir._files import HDF5_SIGNATURE, read_head, sniff

OPTIONS = ("opset", "inputs_as_nchw", "input_signature")
SAVED_MODEL_OPTIONS = ("opset", "inputs_as_nchw", "signature")


@dataclass(frozen=True)
class Traced:
    """A source made ready for tf2onnx: positional inputs with names, dict outputs."""

    call: Callable[..., Any]  # takes the inputs positionally, in spec order
    specs: tuple[Any, ...]  # tf.TensorSpec, each named
    output_names: tuple[str, ...] | None  # names for non-dict results, when known
    framework: str  # "keras" or "tensorflow"
    source: str


def load_tf_object(obj: Any, **options: Any) -> ir.Model:
    """A Keras model, tf.function, ConcreteFunction or loaded SavedModel object."""
    check_option_names(options, OPTIONS, "a TensorFlow object")
    tf, _ = import_tensorflow()
    signature = _check_signature_option(tf, options.get("input_signature"))
    if _is_keras_model(obj):
        traced = _trace_keras(tf, obj, signature)
    elif isinstance(obj, tf.types.experimental.ConcreteFunction):
        traced = _trace_concrete(obj, "tensorflow", _function_name(obj))
    elif isinstance(obj, tf.types.experimental.PolymorphicFunction):
        traced = _trace_function(tf, obj, signature)
    elif getattr(obj, "signatures", None):
        traced = _trace_signature(obj, "serving_default", type(obj).__name__)
    else:
        raise InputError(
            f"cannot load a {type(obj).__name__}: pass a Keras model, a tf.function or "
            "ConcreteFunction, or an object loaded with tf.saved_model.load"
        )
    return _convert(traced, options)


def load_saved_model(path: str | os.PathLike, **options: Any) -> ir.Model:
    """A SavedModel folder, through one of its signatures (default serving_default)."""
    check_option_names(options, SAVED_MODEL_OPTIONS, "a SavedModel folder")
    tf, _ = import_tensorflow()
    path = Path(path)
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # TF raises several types for unreadable folders
        raise InputError(f"{path}: not a loadable SavedModel ({first_line(err)})") from None
    key = options.pop("signature", None) or "serving_default"
    traced = _trace_signature(loaded, key, str(path))
    return _convert(traced, options)


def load_keras_file(path: str | os.PathLike, **options: Any) -> ir.Model:
    """A .keras or .h5 file, loaded with safe_mode=True and without its training setup."""
    check_option_names(options, OPTIONS, "a Keras file")
    path = Path(path)
    _check_keras_file(path)
    tf, _ = import_tensorflow()
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for bad files
        message = first_line(err)
        # Keras names safe_mode somewhere in a several-line message, maybe not the first.
        if "safe_mode" in str(err):
            raise UnsafeModelError(
                f"{path}: refusing to load: the file carries Python code (e.g. a Lambda "
                "layer) that only runs with safe_mode=False"
            ) from None
        raise InputError(f"{path}: not a loadable Keras model ({message})") from None
    signature = _check_signature_option(tf, options.get("input_signature"))
    traced = _trace_keras(tf, model, signature)
    return _convert(_with_source(traced, str(path)), options)


def _check_keras_file(path: Path) -> None:
    """Say what a file is when it is not what its suffix claims, before Keras reads it.

    A .keras file is a zip archive and a .h5 file is HDF5; Keras reports anything else as
    "File not found", and graphkit never hands it a pickle to look at."""
    head = read_head(path)
    if path.suffix.lower() == ".keras":
        if head.startswith(b"PK\x03\x04"):
            return
        expected = "a zip archive"
    else:
        if _is_hdf5(path):
            return
        expected = "an HDF5 file"
    kind = sniff(head)
    what = f"it is {kind}" if kind else f"it is not {expected}"
    raise InputError(f"{path}: not a Keras {path.suffix} model: {what}")


def _is_hdf5(path: Path) -> bool:
    # HDF5's signature is at byte 0, or after a user block of 512, 1024, 2048, ... bytes.
    size = path.stat().st_size
    with open(path, "rb") as file:
        offset = 0
        while offset + len(HDF5_SIGNATURE) <= size:
            file.seek(offset)
            if file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset = max(512, offset * 2)
    return False


def _convert(traced: Traced, options: Mapping[str, Any]) -> ir.Model:
    step("exporting to ONNX through tf2onnx")
    tf, tf2onnx = import_tensorflow()
    opset = check_opset(options.get("opset"))
    ranks = {spec.name: spec.shape.rank for spec in traced.specs}
    nchw = check_nchw_names(options.get("inputs_as_nchw"), ranks)
    function = _named_function(tf, traced)
    try:
        concrete = function.get_concrete_function()
    except Exception as err:  # tracing runs user code: any error is the model's
        raise InputError(f"{traced.source}: tracing failed: {first_line(err)}") from None
    # tf2onnx matches inputs_as_nchw against graph tensor names ("image:0").
    tensor_names = [t.name for t in concrete.inputs if t.dtype != tf.dtypes.resource]
    by_name = dict(zip(ranks, tensor_names, strict=False))
    model = run_tf2onnx(
        tf2onnx.convert.from_function,
        traced.source,
        function=function,
        input_signature=traced.specs,
        opset=opset,
        inputs_as_nchw=[by_name[name] for name in nchw] or None,
    )
    inline_captured_constants(model, concrete, len(traced.specs), traced.source)
    name_unknown_dims(model, batch_first=traced.framework == "keras")
    version = _framework_version(tf, traced.framework)
    provenance = Provenance(
        traced.framework, version, "tf2onnx", tf2onnx.__version__, traced.source
    )
    return stamp(model, provenance)


def _named_function(tf, traced: Traced):
    names = traced.output_names

    def run(*inputs):
        return _name_outputs(tf, traced.call(*inputs), names)

    return tf.function(run, input_signature=list(traced.specs), autograph=False)


def _name_outputs(tf, result: Any, names: Sequence[str] | None) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return {str(key): value for key, value in result.items()}
    flat = tf.nest.flatten(result)
    if not names or len(names) != len(flat):
        names = default_names("output", len(flat))
    return dict(zip(names, flat, strict=True))


def _trace_keras(tf, model: Any, signature: tuple[Any, ...] | None) -> Traced:
    what = type(model).__name__
    import keras

    if keras.backend.backend() != "tensorflow":
        # tf2onnx reads TensorFlow graphs; a JAX or torch backend model makes none.
        raise InputError(
            f"{what}: Keras backend is {keras.backend.backend()!r}; tf2onnx "
            "needs the TensorFlow backend (KERAS_BACKEND=tensorflow)"
        )
    inputs = getattr(model, "inputs", None)
    if signature is None and not inputs:
        raise InputError(
            f"{what}: the Keras model declares no inputs (a subclassed model); pass "
            "input_signature=[tf.TensorSpec(shape, dtype, name=...)]"
        )
    if signature is None:
        signature = tuple(
            tf.TensorSpec(t.shape, t.dtype, name=_input_name(t.name, i, len(inputs)))
            for i, t in enumerate(inputs)
        )

    def call(*args):
        return model(args[0] if len(args) == 1 else list(args), training=False)

    output_names = getattr(model, "output_names", None)
    names = tuple(output_names) if output_names else None
    if names is not None and len(set(names)) != len(names):
        names = None
    return Traced(call, signature, names, "keras", what)


def _input_name(name: str, index: int, count: int) -> str:
    # Keras numbers unnamed inputs "keras_tensor_<n>" from a process-wide counter:
    # such a name would change from run to run.
    if name and not name.startswith("keras_tensor"):
        return name
    return default_names("input", count)[index]


def _trace_function(tf, function: Any, signature: tuple[Any, ...] | None) -> Traced:
    what = _function_name(function)
    signature = signature or function.input_signature
    if signature is None:
        raise InputError(
            f"{what}: the tf.function has no input_signature; pass "
            "input_signature=[tf.TensorSpec(shape, dtype, name=...)]"
        )
    try:
        concrete = function.get_concrete_function(*signature)
    except Exception as err:  # tracing runs user code
        raise InputError(f"{what}: tracing failed: {first_line(err)}") from None
    return _trace_concrete(concrete, "tensorflow", what)


def _trace_signature(loaded: Any, key: str, source: str) -> Traced:
    signatures = getattr(loaded, "signatures", {}) or {}
    if key not in signatures:
        raise InputError(
            f"{source}: no signature {key!r} (signatures: {', '.join(signatures) or 'none'}); "
            "pass signature=<name>"
        )
    traced = _trace_concrete(signatures[key], "tensorflow", source)
    # The signature's functions read the loaded object's variables: keep it alive.
    return Traced(
        lambda *a, _keep=loaded: traced.call(*a), traced.specs, None, traced.framework, source
    )


def _trace_concrete(concrete: Any, framework: str, source: str) -> Traced:
    """Positional and keyword inputs of a ConcreteFunction, as one positional list."""
    import tensorflow as tf

    args, kwargs = concrete.structured_input_signature
    if not all(isinstance(s, tf.TensorSpec) for s in (*args, *kwargs.values())):
        raise InputError(f"{source}: inputs must be plain tensors (no nested structures)")
    placeholders = [t.name.split(":")[0] for t in concrete.inputs if t.dtype != tf.dtypes.resource]
    positional = [s.name or placeholders[i] for i, s in enumerate(args)]
    names = positional + list(kwargs)
    given = (*args, *kwargs.values())
    specs = tuple(
        tf.TensorSpec(s.shape, s.dtype, name=n) for s, n in zip(given, names, strict=True)
    )
    keys = list(kwargs)

    def call(*values):
        split = len(args)
        return concrete(*values[:split], **dict(zip(keys, values[split:], strict=True)))

    return Traced(call, specs, None, framework, source)


def _check_signature_option(tf, signature: Any) -> tuple[Any, ...] | None:
    if signature is None:
        return None
    items = tuple(signature) if isinstance(signature, (list, tuple)) else (signature,)
    for index, spec in enumerate(items):
        if not isinstance(spec, tf.TensorSpec):
            raise InputError(
                f"option 'input_signature': item {index} is a {type(spec).__name__}, "
                "not a tf.TensorSpec"
            )
    names = default_names("input", len(items))
    return tuple(
        tf.TensorSpec(s.shape, s.dtype, name=s.name or names[i]) for i, s in enumerate(items)
    )


def _is_keras_model(obj: Any) -> bool:
    return any(cls.__module__.startswith("keras") for cls in type(obj).__mro__) and hasattr(
        obj, "layers"
    )


def _function_name(function: Any) -> str:
    return getattr(function, "__name__", None) or getattr(function, "name", "tf.function")


def _framework_version(tf, framework: str) -> str:
    if framework != "keras":
        return tf.__version__
    import keras

    return keras.__version__


def _with_source(traced: Traced, source: str) -> Traced:
    return Traced(traced.call, traced.specs, traced.output_names, traced.framework, source)
