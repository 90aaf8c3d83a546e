"""Findings that blocked (or alarmed) where the target takes the node, and a fix not named.

Each model here is one the target runs; the old verdicts said otherwise: GridSample
"of unknown rank" for TorchScript where shape inference knows the rank, every Resize told
its batch and channel scales must be 1 when they are, every AveragePool told about
padding it does not have, and Einsum sent to Flex (graphkit lowers it to builtins now);
a decompose fix asks for its own op only.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import check, codes, header
from conftest import model_from_text, require, run_ort

import graphkit


def test_torchscript_grid_sample_uses_the_inferred_rank():
    require("torch", "torch")
    # r and g2 have no declared shape: only inference knows they are 4-D.
    text = """
    g (float[1,2,4,4] x, float[1,3,3,2] grid) => (float[1,2,3,3] y) {
      r = Relu(x)
      g2 = Tanh(grid)
      y = GridSample(r, g2)
    }"""
    convertible, findings = check(text, "torchscript")
    assert convertible, findings


def test_torchscript_grid_sample_of_the_wrong_rank_still_blocks():
    require("torch", "torch")
    text = """
    g (float[1,2,4,4,4,4] x, float[1,3,3,3,3,4] grid) => (float[1,2,3,3,3,3] y) {
      r = Relu(x)
      y = GridSample<mode="linear">(r, grid)
    }"""
    convertible, findings = check(text, "torchscript", opset=20)
    assert not convertible and "spatial dims" in findings[0].message


RESIZE = """
g (float[1,2,4,4] x) => (float[{out}] y) {{
  s = Constant<value = float[4] {{{scales}}}>()
  y = Resize<mode="linear">(x, , s)
}}"""


def test_tflite_resize_of_spatial_axes_has_no_finding():
    text = RESIZE.format(out="1,2,8,8", scales="1.0, 1.0, 2.0, 2.0")
    convertible, findings = check(text, "tflite")
    assert convertible and findings == []


def test_tflite_resize_of_the_channel_axis_blocks():
    text = RESIZE.format(out="1,4,8,8", scales="1.0, 2.0, 2.0, 2.0")
    convertible, findings = check(text, "tflite")
    assert not convertible and codes(findings) == ["GK110"]
    assert "batch or channel" in findings[0].message


def test_tflite_resize_sizes_keeping_batch_and_channel_have_no_finding():
    text = """
    g (float[1,2,4,4] x) => (float[1,2,6,6] y) {
      n = Constant<value = int64[4] {1, 2, 6, 6}>()
      y = Resize<mode="linear">(x, , , n)
    }"""
    assert check(text, "tflite") == (True, [])
    changed = text.replace("{1, 2, 6, 6}", "{2, 2, 6, 6}").replace("[1,2,6,6] y", "[2,2,6,6] y")
    convertible, findings = check(changed, "tflite")
    assert not convertible and codes(findings) == ["GK110"]


@pytest.mark.parametrize(("attrs", "out", "noted"), [
    ("kernel_shape = [2, 2]", "1,2,3,3", False),
    ("kernel_shape = [2, 2], pads = [0, 0, 0, 0]", "1,2,3,3", False),
    ("kernel_shape = [2, 2], pads = [1, 1, 1, 1]", "1,2,5,5", True),
])
def test_tflite_average_pool_note_only_where_it_pads(attrs, out, noted):
    text = f"""
    g (float[1,2,4,4] x) => (float[{out}] y) {{
      y = AveragePool<{attrs}>(x)
    }}"""
    convertible, findings = check(text, "tflite")
    assert convertible
    assert codes(findings) == (["GK104"] if noted else [])


def test_tflite_lowers_einsum_itself_so_fix_leaves_it():
    # Einsum went through Flex (GK107, fix decompose) until graphkit lowered it to
    # builtins (backends/tflite/lowering/_einsum.py): now it is no finding at all.
    text = header() + """
    g (float[2,3] a, float[3,4] b) => (float[2,4] y) {
      y = Einsum<equation="ij,jk->ik">(a, b)
    }"""
    model = model_from_text(text)
    assert graphkit.diagnose(model, "tflite-builtins").findings == []
    fixed, report = graphkit.fix(model, "tflite-builtins")
    assert report.fixed and "Einsum" in {n.op_type for n in fixed.graph}


def test_decompose_rewrites_only_the_op_that_asked():
    # TensorRT imports LayerNormalization itself: decomposing it because CenterCropPad
    # asked for decompose would only make the model bigger.
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (float[6,4] x, float[4] s) => (float[4,4] y) {
      shape = Constant<value = int64[2] {4, 4}>()
      c = CenterCropPad(x, shape)
      y = LayerNormalization(c, s)
    }"""
    model = model_from_text(text)
    fixed, report = graphkit.fix(model, "tensorrt")
    kept = {n.op_type for n in fixed.graph}
    assert report.fixed and "CenterCropPad" not in kept and "LayerNormalization" in kept
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((6, 4), np.float32),
             "s": rng.standard_normal(4, np.float32)}
    np.testing.assert_allclose(run_ort(fixed, feeds)[0], run_ort(model, feeds)[0], rtol=1e-5)
