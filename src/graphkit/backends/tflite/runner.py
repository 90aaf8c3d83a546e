"""Run a .tflite file with LiteRT's interpreter through its signature, as any user would:
no graphkit needed in the artifact, only `Interpreter(...).get_signature_runner()`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graphkit._quiet import native_logs_off
from graphkit.backends.tflite._flatbuffer import FILE_IDENTIFIER, schema
from graphkit.errors import InputError, MissingDependencyError, first_line

SIGNATURE_KEY = "serving_default"


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


def signature_names(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The signature's input and output names in the order written (the ONNX order):
    LiteRT's own listing sorts them."""
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
    return inputs, outputs


def run_artifact(path: str | os.PathLike, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Outputs by ONNX name, in the model's order."""
    inputs, outputs = signature_names(path)
    missing = [name for name in inputs if name not in feeds]
    if missing:
        raise InputError(f"{path}: no value for input(s) {missing}")
    runner = interpreter(path).get_signature_runner(SIGNATURE_KEY)
    results = runner(**{name: np.asarray(feeds[name]) for name in inputs})
    return {name: np.asarray(results[name]) for name in outputs}
