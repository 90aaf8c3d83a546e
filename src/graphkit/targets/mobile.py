"""ONNX Runtime's mobile execution providers: NNAPI, CoreML (NeuralNetwork and MLProgram).

Facts: onnxruntime's own support lists (opsets/ort-*.toml). What "convertible" means here:
the session always runs, because a node the EP does not take stays on the CPU EP. So these
targets never block; every node the EP will not take is a GK108 `partitioned` warning that
names the reason (op not listed, or which caveat fails) and the fix where one exists. The
EP's own limits that are not per node (NNAPI needs static shapes) are exposed as
`static_shapes` for the driver's generic shape checks.
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
