"""Findings: what an analysis says about one node, under a stable code.

Codes are shared by the docs, JSON output and the fix loop (a rewrite pass declares
which codes it fixes). Never renumber a code; add new ones.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"  # blocks conversion to the target
    WARNING = "warning"  # converts, but something is off (slow, lossy, partitioned)
    INFO = "info"


# code -> (slug, one-line meaning). The slug is what users grep for.
CODES: dict[str, tuple[str, str]] = {
    "GK101": ("unsupported-op", "the target has no implementation of this op"),
    "GK102": ("unsupported-domain", "the target does not know this op domain"),
    "GK103": ("opset-out-of-range", "the model's opset is outside what the target accepts"),
    "GK104": ("unsupported-attribute", "an attribute value the target does not accept"),
    "GK105": ("non-constant-input", "the target needs this input to be a constant"),
    "GK106": ("rank-limit", "a tensor rank beyond what the target accepts"),
    "GK107": ("flex-op", "TFLite runs this op only through Select TF ops (Flex)"),
    "GK108": ("partitioned", "the graph runs in several partitions on this target"),
    "GK109": ("nms", "NonMaxSuppression needs a target-specific form"),
    "GK110": ("kernel-limit", "the target's kernel refuses these shapes, values or settings"),
    "GK111": ("reference-mismatch", "the target runs the node, but its results differ from "
                                    "the ONNX reference"),
    "GK201": ("int64-tensor", "an int64 tensor the target does not handle"),
    "GK202": ("float64-tensor", "a float64 tensor the target does not handle"),
    "GK203": ("unsupported-dtype", "an input or output dtype the target does not accept"),
    "GK204": ("precision-from-types", "the target builds in the graph's own tensor types "
                                      "(TensorRT 11: no FP16 flag): float16 needs a float16 graph"),
    "GK301": ("dynamic-shape", "a dynamic dimension the target needs static"),
    "GK302": ("data-dependent-shape", "an output shape that depends on tensor values"),
    "GK303": ("frozen-dynamic-dim", "a dim declared dynamic that the graph cannot vary"),
    "GK304": ("shape-subgraph", "a Shape-fed computation that folds once shapes are known"),
    "GK305": ("inference-failed", "ONNX shape inference failed, so dtype checks are partial"),
    "GK306": ("overridable-initializer", "initializers that are also graph inputs: a caller "
                                         "may feed them, so they are not constants"),
    "GK307": ("needs-profile", "inputs with dynamic dims need an optimization profile "
                               "(min/opt/max shapes) to build an engine"),
    "GK401": ("min-opset", "the lowest opset at which the node as written is valid"),
    "GK501": ("rewrite-rolled-back", "a rewrite changed outputs and was undone"),
    "GK502": ("validation-mismatch", "outputs differ from the reference beyond tolerance"),
    "GK503": ("checker-failed", "the ONNX checker rejected the model after a rewrite"),
    "GK504": ("validation-skipped", "outputs could not be compared"),
    "GK505": ("rewrite-declined", "a rewrite rule matched but a condition kept it from applying"),
    "GK506": ("vacuous-check", "the outputs hardly change with the input, so comparing them "
                               "proves little"),
}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    node: str | None = None
    op: str | None = None
    fix: str | None = None  # name of the pass that resolves it, when one exists
    target: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")

    @property
    def slug(self) -> str:
        return CODES[self.code][0]

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["slug"] = self.slug
        return data
