"""A sample of the ONNX conformance cases through the TorchScript emitter: a pass-rate
floor, and the analysis (unsupported_reason) agreeing with the outcome on every case."""

from __future__ import annotations

import pytest
from conftest import require

require("torch", "torch")

from graphkit.backends import conformance  # noqa: E402

# One or two ops per lowering family, chosen by how often they appear in the cases.
SAMPLE_OPS = [
    "Add", "Div", "Mod", "Where", "Relu", "Reshape", "Slice", "Pad", "Gather", "ScatterND",
    "Cast", "Range", "ReduceMax", "ArgMax", "Softmax", "CumSum", "Conv", "MaxPool",
    "AveragePool", "LayerNormalization", "QuantizeLinear", "If", "Loop", "SequenceInsert",
    "Resize", "TopK", "Unique", "GridSample", "LSTM", "GRU", "RNN", "Col2Im",
    "CausalConvWithState", "HannWindow",
]


@pytest.fixture(scope="module")
def summary() -> conformance.Summary:
    cases = [c for c in conformance.load_cases() if _single_op(c) in SAMPLE_OPS]
    return conformance.run(cases, conformance.adapter("torchscript"))


def _single_op(case) -> str | None:
    ops = conformance.op_types(case.model.graph)
    return case.model.graph.node[0].op_type if len(case.model.graph.node) == 1 else (
        ops[0] if ops else None
    )


def test_sample_covers_the_families(summary):
    assert len(summary.results) >= 250


def test_pass_rate_floor_on_standard_dtypes(summary):
    passed, total = summary.rate(standard_only=True)
    assert passed / total >= 0.85, f"{passed}/{total}"


def test_analysis_agrees_with_outcome_on_every_case(summary):
    disagreements = [(r.name, r.predicted, r.reason) for r in summary.disagreements()]
    assert disagreements == []
