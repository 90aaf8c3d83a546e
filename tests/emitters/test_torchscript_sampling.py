"""GridSample and Col2Im through the TorchScript emitter, against ONNX Runtime, in the
forms the conformance cases leave out: dynamic batch and grid size, asymmetric Col2Im
pads; and the forms that are rejected."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import model_from_text, require, run_ort

torch = require("torch", "torch")

from graphkit.backends.torchscript.emitter import emit  # noqa: E402
from graphkit.backends.torchscript.lowering import unsupported_reason  # noqa: E402
from graphkit.backends.torchscript.runner import run_artifact  # noqa: E402

GRID_SAMPLE = """<ir_version: 10, opset_import: ["" : 20]>
g (float[N, 2, 5, 6] x, float[N, H, W, 2] grid) => (float[N, 2, H, W] y) {
  y = GridSample <mode = "%s", padding_mode = "%s", align_corners = %d> (x, grid)
}"""


@pytest.mark.parametrize("mode,padding,corners", [("linear", "reflection", 0),
                                                  ("cubic", "border", 1),
                                                  ("nearest", "zeros", 0)])
def test_grid_sample_matches_onnxruntime_at_two_sizes(mode, padding, corners, tmp_path, rng):
    model = model_from_text(GRID_SAMPLE % (mode, padding, corners))
    artifact = emit(model, tmp_path / "g.pt")
    assert artifact.metadata["method"] == "script"
    for batch, h, w in ((1, 3, 4), (3, 7, 2)):
        feeds = {"x": rng.standard_normal((batch, 2, 5, 6)).astype(np.float32),
                 # beyond [-1, 1] so the padding mode matters
                 "grid": rng.uniform(-1.4, 1.4, (batch, h, w, 2)).astype(np.float32)}
        got = run_artifact(artifact.path, feeds)["y"]
        np.testing.assert_allclose(got, run_ort(model, feeds)[0], rtol=1e-5, atol=1e-5)


def test_col2im_with_asymmetric_pads_matches_onnxruntime(tmp_path, rng):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 18]>
    g (float[N, 8, L] x, int64[2] image, int64[2] block) => (float[N, 2, A, B] y) {
      y = Col2Im <pads = [1, 0, 0, 2], strides = [2, 1]> (x, image, block)
    }""")
    artifact = emit(model, tmp_path / "c.pt")
    # image 5x4 padded to 6x6; 2x2 blocks with strides (2, 1): 3 x 5 = 15 positions
    feeds = {"x": rng.standard_normal((2, 8, 15)).astype(np.float32),
             "image": np.array([5, 4], np.int64), "block": np.array([2, 2], np.int64)}
    got = run_artifact(artifact.path, feeds)["y"]
    want = run_ort(model, feeds)[0]
    assert got.shape == want.shape == (2, 2, 5, 4)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_volumetric_cubic_grid_sample_is_rejected_with_the_reason():
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 20]>
    g (float[1, 1, 2, 3, 4] x, float[1, 2, 2, 2, 3] grid) => (float[1, 1, 2, 2, 2] y) {
      y = GridSample <mode = "cubic"> (x, grid)
    }""")
    reason = unsupported_reason(next(iter(model.graph)), 20)
    assert reason is not None and "no tricubic" in reason
