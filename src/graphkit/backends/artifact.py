"""What an emitter returns: the file it wrote, for which target, and how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphkit.validation import OutputDiff


@dataclass
class Artifact:
    path: Path
    target: str
    # Emitter-specific facts: format, method (script/trace), notes for the user, files written.
    metadata: dict[str, Any] = field(default_factory=dict)
    # Filled by graphkit.validate / convert: per-output comparison with the ONNX Runtime reference.
    validation: list[OutputDiff] = field(default_factory=list)

    @property
    def validated(self) -> bool:
        return bool(self.validation) and all(diff.ok for diff in self.validation)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "target": self.target,
            "metadata": self.metadata,
            "validation": [diff.to_json() for diff in self.validation],
            "validated": self.validated,
        }
