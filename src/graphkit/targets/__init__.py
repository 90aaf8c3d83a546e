"""Every target graphkit can diagnose, in one explicit table: name -> factory.

Factories import their module lazily, so that `import graphkit` stays fast and a target
whose data fails to load breaks only itself. Plugins add targets through the
`graphkit.targets` entry point group (the entry point names a zero-argument factory);
a plugin may not replace a built-in target.

To add a built-in target: write `targets/<name>.py` with a class that implements
`graphkit.targets.base.Target`, a factory below, and one `TargetEntry` row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from graphkit.errors import InputError
from graphkit.targets.base import NodeContext, Target, ValueFacts


@dataclass(frozen=True)
class TargetEntry:
    name: str  # as typed after --target
    description: str  # one line for --help
    factory: Callable[[], Target]


def _ort() -> Target:
    from graphkit.targets.ort import OrtTarget

    return OrtTarget()


def _tensorrt(version: str = "10.15") -> Callable[[], Target]:
    def factory() -> Target:
        from graphkit.targets.tensorrt import TensorRTTarget

        return TensorRTTarget(version)

    return factory


def _tflite(allow_flex: bool) -> Callable[[], Target]:
    def factory() -> Target:
        from graphkit.targets.tflite import TFLiteTarget

        return TFLiteTarget(allow_flex=allow_flex)

    return factory


def _mobile(name: str) -> Callable[[], Target]:
    def factory() -> Target:
        from graphkit.targets.mobile import MobileEPTarget

        return MobileEPTarget(name)

    return factory


def _torchscript() -> Target:
    from graphkit.targets.torchscript import TorchScriptTarget

    return TorchScriptTarget()


BUILTIN_TARGETS: tuple[TargetEntry, ...] = (
    TargetEntry("ort", "ONNX Runtime CPU execution provider (the installed onnxruntime)", _ort),
    TargetEntry("tensorrt", "TensorRT 10.15 through its ONNX parser (opsets 9-24)", _tensorrt()),
    TargetEntry("tensorrt@10.1", "TensorRT 10.1 through its ONNX parser (opsets 9-20)",
                _tensorrt("10.1")),
    TargetEntry("tflite", "TensorFlow Lite via graphkit's lowering table (Flex is a warning)",
                _tflite(allow_flex=True)),
    TargetEntry("tflite-builtins", "TensorFlow Lite, builtin ops only (Flex blocks)",
                _tflite(allow_flex=False)),
    TargetEntry("ort-nnapi", "ONNX Runtime NNAPI EP: which nodes run on NNAPI, which on CPU",
                _mobile("ort-nnapi")),
    TargetEntry("ort-coreml", "ONNX Runtime CoreML EP (NeuralNetwork): CoreML vs CPU nodes",
                _mobile("ort-coreml")),
    TargetEntry("ort-coreml-mlprogram", "ONNX Runtime CoreML EP (MLProgram): CoreML vs CPU nodes",
                _mobile("ort-coreml-mlprogram")),
    TargetEntry("torchscript", "TorchScript via graphkit's torch.fx lowering table", _torchscript),
)


def target_table() -> dict[str, TargetEntry]:
    """Name -> entry: the built-ins, then plugins from entry points."""
    table = {entry.name: entry for entry in BUILTIN_TARGETS}
    for point in entry_points(group="graphkit.targets"):
        if point.name in table:
            raise ValueError(f"plugin target '{point.name}' clashes with a built-in target")
        table[point.name] = TargetEntry(point.name, f"plugin ({point.value})", point.load())
    return table


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


__all__ = [
    "BUILTIN_TARGETS",
    "NodeContext",
    "Target",
    "TargetEntry",
    "ValueFacts",
    "get_target",
    "target_names",
    "target_table",
]
