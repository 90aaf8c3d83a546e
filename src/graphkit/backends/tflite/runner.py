"""Run a .tflite file with LiteRT's interpreter through its signature, as any user would:
no graphkit needed in the artifact, only `Interpreter(...).get_signature_runner()`."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graphkit._quiet import native_logs_off
from graphkit.backends.tflite._flatbuffer import FILE_IDENTIFIER, schema
from graphkit.errors import InputError, MissingDependencyError, first_line

SIGNATURE_KEY = "serving_default"
FEEDS_NONSTANDARD_DTYPES = False  # numpy has no bfloat16/float8 for LiteRT's Python API
# The file's metadata entry that lists, as JSON {"nhwc": [names]}, the inputs and outputs
# the emitter wrote as NHWC.
LAYOUT_METADATA = "graphkit.layout"


def available() -> str | None:
    """None when this environment can run a `.tflite`; else why not."""
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "ai-edge-litert is not installed (pip install graphkit[tensorflow])"
    return None


def interpreter(path: str | os.PathLike, threads: int = 1):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ModuleNotFoundError:
        raise MissingDependencyError("ai_edge_litert", "tensorflow", "running a .tflite file") \
            from None

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with native_logs_off():  # LiteRT announces its XNNPACK delegate on stderr
            return Interpreter(model_path=str(path), num_threads=threads)
    except ValueError as err:
        raise InputError(f"{path}: LiteRT cannot load it ({first_line(err)})") from None


def signature_names(path: str | os.PathLike) -> tuple[list[str], list[str], set[str]]:
    """The signature's input and output names in the order written (the ONNX order):
    LiteRT's own listing sorts them; and the names graphkit wrote as NHWC (--nhwc-io)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = path.read_bytes()
    if data[4:8] != FILE_IDENTIFIER:
        raise InputError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema().Model.GetRootAs(data, 0)
        count = model.SignatureDefsLength()
    except Exception:  # flatbuffers raises what the bytes make it raise
        raise InputError(f"{path}: not a TFLite flatbuffer") from None
    if count == 0:
        raise InputError(f"{path}: the .tflite file has no signature")
    signature = model.SignatureDefs(0)
    inputs = [signature.Inputs(i).Name().decode() for i in range(signature.InputsLength())]
    outputs = [signature.Outputs(i).Name().decode() for i in range(signature.OutputsLength())]
    return inputs, outputs, _nhwc_names(model)


def _nhwc_names(model) -> set[str]:
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name().decode() != LAYOUT_METADATA:
            continue
        raw = model.Buffers(entry.Buffer()).DataAsNumpy()
        try:
            return set(json.loads(bytes(raw).decode()).get("nhwc", []))
        except (ValueError, AttributeError, TypeError):
            return set()
    return set()


def run_artifact(path: str | os.PathLike, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Outputs by ONNX name, in the model's order and layout (NHWC inputs and outputs of
    an --nhwc-io artifact are transposed from and back to the ONNX model's NCHW)."""
    inputs, outputs, nhwc = signature_names(path)
    missing = [name for name in inputs if name not in feeds]
    if missing:
        raise InputError(f"{path}: no value for input(s) {missing}")
    runner = interpreter(path).get_signature_runner(SIGNATURE_KEY)
    given = {name: np.asarray(feeds[name]) for name in inputs}
    given = {name: value.transpose(0, 2, 3, 1) if name in nhwc else value
             for name, value in given.items()}
    try:
        # (np.ascontiguousarray would make a 0-d input 1-d)
        with native_logs_off():  # the delegate is announced when tensors are allocated
            results = runner(**{name: np.array(value, order="C")
                                for name, value in given.items()})
    except RuntimeError as err:
        if "Select TensorFlow op(s)" not in str(err):
            raise
        raise InputError(f"{path}: its Select TF ops (Flex) need a Flex delegate, which this "
                         "LiteRT lacks") from None
    return {name: np.asarray(results[name]).transpose(0, 3, 1, 2) if name in nhwc
            else np.asarray(results[name]) for name in outputs}
