"""Where did this model come from? Recorded in its metadata_props under `graphkit.` keys.

The keys travel with the model through save/load, so a report, a bug or a diff of
two exports can say which framework, exporter and opset produced the graph, and
validation can feed the shapes the model was traced with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import onnx_ir as ir

from graphkit.validation import record_example_shapes

PREFIX = "graphkit."


@dataclass(frozen=True)
class Provenance:
    framework: str  # "torch", "keras", "tensorflow", "tflite"
    framework_version: str
    exporter: str  # "torch.onnx-torchscript", "torch.onnx-dynamo", "tf2onnx"
    exporter_version: str
    source: str  # what the user handed over: a class name or a path


def stamp(
    model: ir.Model,
    provenance: Provenance,
    example_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> ir.Model:
    """Write the provenance keys (and the example input shapes, if known) into the model."""
    opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx"))
    fields = {
        "framework": provenance.framework,
        "framework_version": provenance.framework_version,
        "exporter": provenance.exporter,
        "exporter_version": provenance.exporter_version,
        "source": provenance.source,
        "opset": "" if opset is None else str(opset),
    }
    model.metadata_props.update({PREFIX + key: value for key, value in fields.items()})
    if example_shapes:
        record_example_shapes(model, example_shapes)
    return model


def read_provenance(model: ir.Model) -> dict[str, str]:
    """The `graphkit.` keys of the model, without the prefix."""
    return {
        key[len(PREFIX) :]: value
        for key, value in model.metadata_props.items()
        if key.startswith(PREFIX)
    }
