"""Frontends: everything users hand to `graphkit.load` becomes an onnx-ir Model.

Framework imports happen only inside the frontend that needs them, so that
`import graphkit` stays fast and works without torch or TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx
import onnx_ir as ir

from graphkit._quiet import native_logs_off
from graphkit.errors import InputError, UnsafeModelError
from graphkit.ir import load_onnx, load_onnx_bytes, model_from_proto
from graphkit.ir._files import check_regular_file

# Files that are Python pickles: loading one runs arbitrary code chosen by its author.
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib"})


def load(source: Any, **options: Any) -> ir.Model:
    """Load a model from a file, bytes, ModelProto, nn.Module, Keras model or tf.function.

    Framework sources are converted to ONNX (see the docs of frontends.torch,
    .tensorflow and .tflite for their options); an nn.Module is exported in eval mode
    and its modes are restored afterwards. Input files are only read.
    """
    if isinstance(source, ir.Model):
        return source
    if isinstance(source, onnx.ModelProto):
        return model_from_proto(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_onnx_bytes(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return _load_path(Path(source), **options)
    return _load_object(source, **options)


def _load_path(path: Path, **options: Any) -> ir.Model:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise UnsafeModelError(
            f"{path}: refusing to load a '{suffix}' file: it is a Python pickle, and unpickling "
            "runs code chosen by whoever made the file. Export the model to ONNX "
            "(torch.onnx.export) or pass the nn.Module itself with example_inputs=."
        )
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            from graphkit.frontends import tensorflow

            with native_logs_off():  # TensorFlow's C++ logs: see graphkit._quiet
                return tensorflow.load_saved_model(path, **options)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        raise InputError(f"{path}: a folder, but not a TensorFlow SavedModel (no saved_model.pb)")
    check_regular_file(path)  # before any reader opens it: a FIFO would block it forever
    if suffix == ".tflite":
        from graphkit.frontends import tflite

        with native_logs_off():
            return tflite.load_tflite(path, **options)
    if suffix == ".pt2":  # torch.export.save's archive: read without unpickling
        from graphkit.frontends import pt2

        return pt2.load_pt2(path, **options)
    if suffix in {".keras", ".h5"}:
        from graphkit.frontends import tensorflow

        with native_logs_off():
            return tensorflow.load_keras_file(path, **options)
    if options:
        raise InputError(f"{path}: options {sorted(options)} do not apply to an ONNX file")
    return load_onnx(path)


def _load_object(source: Any, **options: Any) -> ir.Model:
    # Users subclass framework classes in their own modules: look along the MRO.
    roots = {cls.__module__.split(".")[0] for cls in type(source).__mro__}
    if "torch" in roots:
        from graphkit.frontends import torch

        return torch.load_module(source, **options)
    if roots & {"keras", "tensorflow", "tf_keras"}:
        from graphkit.frontends import tensorflow

        with native_logs_off():
            return tensorflow.load_tf_object(source, **options)
    raise InputError(
        f"cannot load a {type(source).__name__}: pass an ONNX/TFLite path, bytes, "
        "onnx.ModelProto, torch.nn.Module, Keras model or tf.function"
    )
