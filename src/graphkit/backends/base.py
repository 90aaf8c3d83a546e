"""What a backend is made of, as three small protocols: Target (analysis), Emitter, Runner.

A backend (graphkit.backends.<name>/) has a Target, whose `check_node` says per node
whether the target runs it and why not (the diagnose driver walks every node once, after
shape and type inference, and the findings name the pass that `graphkit fix` runs); the
pipeline `fix` runs for it and its NMS form (its pipeline.py, read through the registry);
and, where graphkit writes its artifacts, an Emitter and a Runner. These are module-level
protocols: the registry names a module, and the module is the emitter or runner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import onnx_ir as ir

from graphkit.findings import Finding
from graphkit.targets.base import NodeContext

if TYPE_CHECKING:  # the artifact module reads validation: not needed to name a target
    from graphkit.backends.artifact import Artifact


class Target(Protocol):
    """The interface every target implements (graphkit.backends.BACKENDS is the table)."""

    name: str  # as typed on the command line: "ort", "tensorrt", "tflite", ...
    description: str  # one line for --help and reports

    def opset_range(self) -> tuple[int, int]:
        """The ai.onnx opsets this target accepts, inclusive."""
        ...

    def check_model(self, model: ir.Model) -> list[Finding]:
        """Model-level findings (opset outside the range, unsupported domains, ...)."""
        ...

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        """Findings for one node; an empty list means the target runs it as it is."""
        ...


class Emitter(Protocol):
    """A module that writes a target's artifact (registry field `emitter`)."""

    SUFFIXES: tuple[str, ...]  # the file suffixes it writes, its usual one first
    # Optional PREPARE: a pipeline string convert runs, proven, after the target's fixes and
    # before emit, for passes whose output is for this emitter only (TFLite's NHWC layout).

    def emit(self, model: ir.Model, output: str | os.PathLike, **options: Any) -> Artifact:
        """Write `output` atomically and say what was written; options are the emitter's own."""
        ...


class Runner(Protocol):
    """A module that runs a target's artifacts here (registry fields `runner`, `suffixes`)."""

    def available(self) -> str | None:
        """None when artifacts can run in this environment; else why not (a missing package,
        no GPU), so that a proof says "not provable here" instead of guessing."""
        ...

    def run_artifact(self, path: str | os.PathLike, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs by name, in the model's order."""
        ...
