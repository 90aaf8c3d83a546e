"""The report a job returns: findings, what each pass did, and the numerical validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphkit.findings import Finding
from graphkit.validation import OutputDiff


@dataclass
class PassRecord:
    name: str
    kind: str
    seconds: float
    nodes_before: int
    nodes_after: int
    changes: list[str] = field(default_factory=list)
    rolled_back: bool = False
    modified: bool = False  # what the pass said (PassResult.modified); rolled back or not

    def to_json(self) -> dict[str, Any]:
        return {
            "pass": self.name,
            "kind": self.kind,
            "seconds": round(self.seconds, 6),
            "nodes_before": self.nodes_before,
            "nodes_after": self.nodes_after,
            "modified": self.modified,
            "changes": self.changes,
            "rolled_back": self.rolled_back,
        }


@dataclass
class Report:
    model: str
    target: str | None = None
    findings: list[Finding] = field(default_factory=list)
    passes: list[PassRecord] = field(default_factory=list)
    validation: list[OutputDiff] = field(default_factory=list)
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    runtime: str = ""  # which runtime produced the reference outputs
    # Post-processing models a pass split off (nms cut), in order: save each beside the output
    # (`<stem>.post.onnx`); run after the main model they reproduce the original outputs.
    post_models: list[Any] = field(default_factory=list)
    # A pass replaced the model's outputs by design (nms native/plugin): not in the JSON.
    replaced_outputs: bool = False
    # The model returned, as the proof behind `validation` captured it (a LightModel): shape
    # inference can read its proto instead of serializing the graph again. Not in the JSON.
    capture: Any = None
    tolerance: tuple[float, float] | None = None  # loosest tolerance a kept rewrite asked for

    @property
    def blockers(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.blocking]

    @property
    def validated(self) -> bool:
        return bool(self.validation) and all(diff.ok for diff in self.validation)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "target": self.target,
            "findings": [finding.to_json() for finding in self.findings],
            "passes": [record.to_json() for record in self.passes],
            "validation": {
                "runtime": self.runtime,
                "input_shapes": {k: list(v) for k, v in self.input_shapes.items()},
                "outputs": [diff.to_json() for diff in self.validation],
                "ok": self.validated,
            },
        }
