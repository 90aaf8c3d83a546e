"""ONNX Runtime's mobile execution providers: NNAPI, CoreML (NeuralNetwork and MLProgram).

Facts: onnxruntime's own support lists (opsets/ort-*.toml), the lists its mobile usability
checker reads. What "convertible" means here: the session always runs, because a node the
EP does not take stays on the CPU EP, so these targets never block. Every node the EP will
not take is a GK108 `partitioned` warning that names the reason (op not listed, which
caveat fails, or, for NNAPI, which input has a dynamic shape) and the fix where one
exists. Those nodes are where onnxruntime cuts the graph: the diagnosis's partitions
count the pieces the EP runs and the largest one, which is what decides whether the EP
is worth it.
"""

from __future__ import annotations

from graphkit.targets._data import load_target_data
from graphkit.targets._table import TableTarget

LABELS = {
    "ort-nnapi": "the NNAPI EP",
    "ort-coreml": "the CoreML EP (NeuralNetwork)",
    "ort-coreml-mlprogram": "the CoreML EP (MLProgram)",
}


class MobileEPTarget(TableTarget):
    def __init__(self, name: str) -> None:
        if name not in LABELS:
            raise ValueError(f"unknown mobile EP target {name!r}; known: {', '.join(LABELS)}")
        super().__init__(load_target_data(name), label=LABELS[name])
