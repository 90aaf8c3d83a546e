"""Emitters: one module per target, each with `emit(model, output, **options) -> Artifact`,
`run_artifact(path, feeds) -> outputs` and the file suffixes it writes (`SUFFIXES`).
Imported lazily: torch loads only when needed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from graphkit.errors import InputError

# target -> module that emits it
EMITTERS: dict[str, str] = {
    "ort": "graphkit.emitters.ort",
    "torchscript": "graphkit.emitters.torchscript",
    "tflite": "graphkit.backends.tflite",
}

# artifact suffix -> target whose runner reads it (without importing every emitter; a test
# holds it to the emitters' own SUFFIXES)
RUNNERS_BY_SUFFIX: dict[str, str] = {
    ".onnx": "ort", ".ort": "ort", ".pt": "torchscript", ".tflite": "tflite",
}


def emitter(target: str) -> ModuleType:
    if target not in EMITTERS:
        known = ", ".join(sorted(EMITTERS))
        raise InputError(f"no emitter for target '{target}'; graphkit emits: {known}")
    return importlib.import_module(EMITTERS[target])


def runner_for(path: str | Path) -> ModuleType:
    suffix = Path(path).suffix.lower()
    if suffix not in RUNNERS_BY_SUFFIX:
        known = ", ".join(sorted(RUNNERS_BY_SUFFIX))
        raise InputError(f"{path}: cannot run a '{suffix}' artifact; known kinds: {known}")
    return emitter(RUNNERS_BY_SUFFIX[suffix])
