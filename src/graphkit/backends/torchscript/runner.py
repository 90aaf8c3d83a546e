"""Running a TorchScript `.pt` written by the emitter: torch.jit.load, no graphkit needed
beyond the input and output names the archive carries. torch is imported on first use,
so `available()` can say it is missing instead of failing at import."""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graphkit.errors import InputError, first_line

METADATA_FILE = "graphkit.json"  # the archive's extra file: input and output names, method


def available() -> str | None:
    """None when this environment can run a `.pt`; else why not."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install graphkit[torch])"
    return None


def load_metadata(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """The scripted module of a `.pt` written by `emit`, and graphkit's metadata in it."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    extra = {METADATA_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
            module = torch.jit.load(str(path), _extra_files=extra, map_location="cpu")
    except RuntimeError as err:
        raise InputError(f"{path}: not a TorchScript archive ({first_line(err)})") from None
    if not extra[METADATA_FILE]:
        raise InputError(f"{path}: a TorchScript archive without graphkit's {METADATA_FILE}")
    return module, json.loads(extra[METADATA_FILE])


def run_artifact(path: str | os.PathLike, feeds: Mapping[str, Any]) -> dict[str, Any]:
    """Run a `.pt` written by `emit`; outputs by ONNX name, in the model's order."""
    module, metadata = load_metadata(path)
    missing = [name for name in metadata["inputs"] if name not in feeds]
    if missing:
        raise InputError(f"{path}: no value for input(s) {missing}")
    import torch

    args = [_to_arg(feeds[name]) for name in metadata["inputs"]]
    with torch.no_grad():
        results = module(*args)
    return {name: _from_result(value) for name, value in zip(metadata["outputs"], results)}


def _to_arg(value: Any) -> Any:
    from graphkit.backends.torchscript._dtypes import to_torch

    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [to_torch(np.asarray(item)) for item in value]
    return to_torch(np.asarray(value))


def _from_result(value: Any) -> Any:
    from graphkit.backends.torchscript._dtypes import to_numpy

    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [to_numpy(item) for item in value]
    return to_numpy(value)
