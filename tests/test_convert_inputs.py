"""convert --inputs: the fix step proves its rewrites on the inputs the user gave.

convert used to call fix without them, so fix generated its own, and a model that runs
only on the user's kind of data was refused (exit 2, "could not find input shapes").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, run_ort

import graphkit
from graphkit.cli import main

HEADER = '<ir_version: 10, opset_import: ["" : 18]>'

SQUARED_IDS = f"""{HEADER}
g (int64[2, 6] ids) => (float[2, 6, 4] y)
<float[2, 4] table = {{1, 2, 3, 4, 5, 6, 7, 8}}> {{
    squared = Mul(ids, ids)
    y = Gather(table, squared)
}}"""


@pytest.fixture
def squared_ids(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    """A model only inputs in {0, 1} (or -1) run: no generated draw can know that."""
    path = tmp_path / "squared_ids.onnx"
    ir.save(model_from_text(SQUARED_IDS), path)
    ids = np.random.default_rng(0).integers(0, 2, size=(2, 6)).astype(np.int64)
    return path, {"ids": ids}


def test_convert_proves_the_fix_on_the_given_inputs(squared_ids, tmp_path):
    path, feeds = squared_ids
    artifact = graphkit.convert(path, "ort", tmp_path / "out.onnx", inputs=feeds)
    assert artifact.validated
    assert artifact.metadata["fix"]["validation"]["ok"]
    [expected] = run_ort(graphkit.load(path), feeds)
    [actual] = run_ort(onnx.load(artifact.path), feeds)
    np.testing.assert_array_equal(actual, expected)


def test_convert_cli_inputs_reach_the_fix_step(squared_ids, tmp_path, capsys):
    path, feeds = squared_ids
    data = tmp_path / "data.npz"
    np.savez(data, **feeds)
    assert main(["convert", str(path), "--to", "ort", "-o", str(tmp_path / "out.onnx"),
                 "--inputs", str(data)]) == 0
    assert "ok" in capsys.readouterr().out
