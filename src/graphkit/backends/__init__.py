"""Every backend graphkit knows, in one table: the registry that diagnose, fix, convert,
the conformance harness and the CLI all read.

A row is one name as typed after --target / --to: how to build its Target (analysis), the
cleanup pipeline and NMS form `fix` gives it, and, where graphkit can write and run its
artifacts, the emitter and runner modules with the suffixes the runner reads. A backend's
code lives in its own folder, backends/<name>/ (target.py, pipeline.py, emitter.py,
runner.py); adding one is a folder and a row here (docs/architecture.md, "Add a target").

Modules are imported lazily (a row names its pipeline, emitter and runner modules), so
`import graphkit` and `graphkit --help` stay fast, torch loads only when needed, and a
backend whose data fails to load breaks only itself. Plugins add targets (analysis only)
through the `graphkit.targets` entry point group (the entry point names a zero-argument
factory); a plugin may not replace a built-in target.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from graphkit.errors import InputError

if TYPE_CHECKING:
    from graphkit.backends.base import Target

PORTABLE = "graphkit.backends.pipelines"


@dataclass(frozen=True)
class Backend:
    name: str  # as typed after --target (and --to, where it has an emitter)
    description: str  # one line for --help
    factory: Callable[[], Target]  # its analysis, built on first use
    # module with pipeline(opset) -> pass names, and NMS_FORM: the NMS mode `fix` picks when
    # a finding asks for one (default "keep")
    pipeline: str = PORTABLE
    nms_form: str | None = None  # where the row's NMS_FORM is not its pipeline module's
    emitter: str | None = None  # module with emit(model, out, **options) and SUFFIXES
    runner: str | None = None  # module with run_artifact(path, feeds) and available()
    suffixes: tuple[str, ...] = ()  # artifact suffixes its runner reads


def _ort() -> Target:
    from graphkit.backends.ort.target import OrtTarget

    return OrtTarget()


def _tensorrt(version: str | None = None) -> Callable[[], Target]:
    def factory() -> Target:
        from graphkit.backends.tensorrt.target import TensorRTTarget

        return TensorRTTarget(version)

    return factory


def _tflite(allow_flex: bool) -> Callable[[], Target]:
    def factory() -> Target:
        from graphkit.backends.tflite.target import TFLiteTarget

        return TFLiteTarget(allow_flex=allow_flex)

    return factory


def _ort_ep(name: str) -> Callable[[], Target]:
    def factory() -> Target:
        from graphkit.backends.ort_eps.target import MobileEPTarget

        return MobileEPTarget(name)

    return factory


def _torchscript() -> Target:
    from graphkit.backends.torchscript.target import TorchScriptTarget

    return TorchScriptTarget()


_ORT = dict(pipeline="graphkit.backends.ort.pipeline")
_TENSORRT = dict(pipeline="graphkit.backends.tensorrt.pipeline")
_TFLITE = dict(pipeline="graphkit.backends.tflite.pipeline")

BACKENDS: tuple[Backend, ...] = (
    Backend("ort", "ONNX Runtime CPU execution provider (the installed onnxruntime)", _ort,
            **_ORT, emitter="graphkit.backends.ort.emitter",
            runner="graphkit.backends.ort.runner", suffixes=(".onnx", ".ort")),
    # The default version and each version's opsets are data: opsets/tensorrt.toml.
    Backend("tensorrt", "TensorRT through its ONNX parser, the newest version graphkit's "
            "table covers", _tensorrt(), **_TENSORRT, emitter="graphkit.backends.tensorrt.emitter",
            runner="graphkit.backends.tensorrt.runner", suffixes=(".engine", ".plan")),
    Backend("tensorrt@10.15", "TensorRT 10.15 through its ONNX parser", _tensorrt("10.15"),
            **_TENSORRT),
    Backend("tensorrt@10.1", "TensorRT 10.1 through its ONNX parser", _tensorrt("10.1"),
            **_TENSORRT),
    Backend("tflite", "TensorFlow Lite: graphkit's lowering table and its emitter (builtins)",
            _tflite(allow_flex=True), **_TFLITE, emitter="graphkit.backends.tflite.emitter",
            runner="graphkit.backends.tflite.runner", suffixes=(".tflite",)),
    # Keeps the model's NMS, as before the registry (the family was the name before '@'):
    # whether it should take tflite's native form too is for the TFLite emitter to settle.
    Backend("tflite-builtins", "TensorFlow Lite, builtin ops only (Flex blocks)",
            _tflite(allow_flex=False), pipeline="graphkit.backends.tflite.pipeline",
            nms_form="keep"),
    Backend("ort-nnapi", "ONNX Runtime NNAPI EP: which nodes run on NNAPI, which on CPU",
            _ort_ep("ort-nnapi")),
    Backend("ort-coreml", "ONNX Runtime CoreML EP (NeuralNetwork): CoreML vs CPU nodes",
            _ort_ep("ort-coreml")),
    Backend("ort-coreml-mlprogram", "ONNX Runtime CoreML EP (MLProgram): CoreML vs CPU nodes",
            _ort_ep("ort-coreml-mlprogram")),
    Backend("torchscript", "TorchScript via graphkit's torch.fx lowering table", _torchscript,
            emitter="graphkit.backends.torchscript.emitter",
            runner="graphkit.backends.torchscript.runner", suffixes=(".pt",)),
)


def target_table() -> dict[str, Backend]:
    """Name -> row: the built-ins, then plugin targets from entry points."""
    table = {backend.name: backend for backend in BACKENDS}
    for point in _plugin_points():
        if point.name in table:
            raise ValueError(f"plugin target '{point.name}' clashes with a built-in target")
        table[point.name] = Backend(point.name, f"plugin ({point.value})", point.load())
    return table


@functools.cache
def _plugin_points() -> tuple[EntryPoint, ...]:
    """Read once: finding entry points scans every installed distribution's metadata, and
    what is installed does not change while graphkit runs."""
    return tuple(entry_points(group="graphkit.targets"))


def target_names() -> list[str]:
    return list(target_table())


def get_target(target: str | Target) -> Target:
    """The Target for a name (or the Target itself); an unknown name lists the known ones."""
    if not isinstance(target, str):
        if callable(getattr(target, "check_node", None)):
            return target
        raise TypeError(f"a target is a name like 'ort' or a Target object, not "
                        f"{type(target).__name__} {target!r:.80}")
    table = target_table()
    if target not in table:
        known = ", ".join(table)
        raise InputError(f"unknown target '{target}'; known targets: {known}")
    return table[target].factory()


def _builtin(target: str) -> Backend | None:
    return next((backend for backend in BACKENDS if backend.name == target), None)


def _family_row(target: str) -> Backend | None:
    """The row of a target name; a version the table lacks (tensorrt@10.3) takes its family's."""
    return _builtin(target) or _builtin(target.split("@")[0])


def pipeline_for(target: str, opset: int) -> str:
    """The cleanup and fusion pipeline `fix` runs for the target, as a pipeline string."""
    row = _builtin(target)
    module = importlib.import_module(row.pipeline if row is not None else PORTABLE)
    return ",".join(module.pipeline(opset))


def nms_form(target: str) -> str:
    """The NMS mode `fix` uses when the target's GK109 finding asks for one and the user
    chose none (see each backend's pipeline.py); elsewhere the model's own NMS stays."""
    row = _family_row(target)
    if row is None:
        return "keep"
    return row.nms_form or getattr(importlib.import_module(row.pipeline), "NMS_FORM", "keep")


def emitter_names() -> list[str]:
    """The targets graphkit converts to (`convert --to`)."""
    return [backend.name for backend in BACKENDS if backend.emitter is not None]


def emitter(target: str) -> ModuleType:
    row = _builtin(target)
    if row is None or row.emitter is None:
        known = ", ".join(sorted(emitter_names()))
        raise InputError(f"no emitter for target '{target}'; graphkit emits: {known}")
    return importlib.import_module(row.emitter)


def runners_by_suffix() -> dict[str, str]:
    """Artifact suffix -> the target whose runner reads it (without importing any runner)."""
    return {suffix: backend.name for backend in BACKENDS for suffix in backend.suffixes}


def runner(target: str) -> ModuleType:
    row = _builtin(target)
    if row is None or row.runner is None:
        raise InputError(f"graphkit has no runner for target '{target}'")
    return importlib.import_module(row.runner)


def runner_for(path: str | Path) -> ModuleType:
    suffix = Path(path).suffix.lower()
    table = runners_by_suffix()
    if suffix not in table:
        known = ", ".join(sorted(table))
        raise InputError(f"{path}: cannot run a '{suffix}' artifact; known kinds: {known}")
    return runner(table[suffix])


__all__ = [
    "BACKENDS",
    "Backend",
    "emitter",
    "emitter_names",
    "get_target",
    "nms_form",
    "pipeline_for",
    "runner",
    "runner_for",
    "runners_by_suffix",
    "target_names",
    "target_table",
]
