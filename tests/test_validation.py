"""Validation picks input shapes the model accepts and compares outputs honestly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import model_from_text

import graphkit
from graphkit.validation import (
    ModelRunner,
    choose_input_shapes,
    compare_outputs,
    make_inputs,
    record_example_shapes,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import models  # noqa: E402

DYNAMIC_ADD = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[batch, n] x, int64[batch] k) => (float[batch, n] y, int64[batch] k2) {
    y = Add(x, x)
    k2 = Add(k, k)
}
"""


@pytest.fixture(scope="module")
def frozen_transformer(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "transformer2.onnx"
    return graphkit.load(models.transformer_onnx(path, blocks=2))


def test_traced_sequence_length_is_found_and_reported(frozen_transformer):
    choice = choose_input_shapes(frozen_transformer, ModelRunner(frozen_transformer))
    assert choice.shapes["x"][1] == models.TRACE_SEQ
    [finding] = choice.findings
    assert finding.code == "GK303"
    assert "'seq'" in finding.message and "Reshape node" in finding.message


def test_recorded_example_shapes_win(frozen_transformer):
    record_example_shapes(frozen_transformer, {"x": (3, 128, 256)})
    choice = choose_input_shapes(frozen_transformer, ModelRunner(frozen_transformer))
    assert choice.shapes["x"] == (3, 128, 256)


def test_free_dims_get_no_finding():
    model = model_from_text(DYNAMIC_ADD)
    choice = choose_input_shapes(model, ModelRunner(model))
    assert choice.findings == []
    feeds = make_inputs(model, choice.shapes, seed=3)
    again = make_inputs(model, choice.shapes, seed=3)
    assert feeds["k"].dtype == np.int64
    np.testing.assert_array_equal(feeds["x"], again["x"])


def test_compare_flags_shape_nan_and_value_differences():
    ref = {"a": np.array([1.0, np.nan]), "b": np.ones((2, 2)), "c": np.array([1.0, 2.0])}
    got = {"a": np.array([1.0, 0.0]), "b": np.ones((4,)), "c": np.array([1.0, 2.1])}
    by_name = {d.name: d for d in compare_outputs(ref, got)}
    assert "NaN" in by_name["a"].reason and not by_name["a"].ok
    assert "shape" in by_name["b"].reason and not by_name["b"].ok
    assert not by_name["c"].ok and by_name["c"].max_abs == pytest.approx(0.1)
    same = compare_outputs(ref, {k: v.copy() for k, v in ref.items()})
    assert all(d.ok and d.max_abs == 0 for d in same)
