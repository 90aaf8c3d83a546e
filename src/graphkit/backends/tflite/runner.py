"""Run a .tflite file with LiteRT's interpreter through its signature, as any user would:
no graphkit needed in the artifact, only `Interpreter(...).get_signature_runner()`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graphkit.errors import InputError, first_line

SIGNATURE_KEY = "serving_default"


def interpreter(path: str | os.PathLike, threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return Interpreter(model_path=str(path), num_threads=threads)
    except ValueError as err:
        raise InputError(f"{path}: LiteRT cannot load it ({first_line(err)})") from None


def signature_names(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The signature's input and output names in the order written (the ONNX order):
    LiteRT's own listing sorts them."""
    from ai_edge_litert import schema_py_generated as schema

    data = Path(path).read_bytes()
    model = schema.Model.GetRootAs(data, 0)
    if model.SignatureDefsLength() == 0:
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
