"""Weights over what a .tflite flatbuffer holds (its offsets are 32-bit, 2 GB) go after
it, each constant buffer naming its bytes by offset and size: the schema's form for large
models. Tested with the limit lowered, so that no test allocates 2 GB."""

from __future__ import annotations

import numpy as np
from conftest import model_from_text, require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")

from graphkit.backends.tflite import _flatbuffer  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402

MODEL = """<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 64] x) => (float[2, 64] y) <float[64, 64] w = {weights}, float[64] b = {bias}> {{
    h = MatMul(x, w)
    y = Add(h, b)
}}"""


def _model(rng):
    weights = ", ".join(f"{v:.6f}" for v in rng.standard_normal(64 * 64))
    bias = ", ".join(f"{v:.6f}" for v in rng.standard_normal(64))
    return model_from_text(MODEL.format(weights="{" + weights + "}", bias="{" + bias + "}"))


def _buffers(path) -> list[tuple[int, int, int]]:
    """(data length, offset, size) of every buffer in the file."""
    model = _flatbuffer.schema().Model.GetRootAs(path.read_bytes(), 0)
    return [(model.Buffers(i).DataLength(), model.Buffers(i).Offset(), model.Buffers(i).Size())
            for i in range(model.BuffersLength())]


def test_weights_over_the_limit_go_after_the_flatbuffer_and_run(tmp_path, rng, monkeypatch):
    model = _model(rng)
    monkeypatch.setattr(_flatbuffer, "INLINE_WEIGHT_BYTES", 1000)  # the 16 KiB of w is over
    path = emit(model, tmp_path / "big.tflite").path
    external = [(offset, size) for length, offset, size in _buffers(path) if offset > 1]
    assert sorted(size for _, size in external) == [64 * 4, 64 * 64 * 4]
    assert all(length == 0 for length, offset, _ in _buffers(path) if offset > 1)
    assert all(offset % _flatbuffer.BUFFER_ALIGNMENT == 0 for offset, _ in external)
    assert max(offset + size for offset, size in external) == path.stat().st_size
    x = rng.standard_normal((2, 64)).astype(np.float32)
    (want,) = run_ort(model, {"x": x})
    np.testing.assert_allclose(run_artifact(path, {"x": x})["y"], want, rtol=1e-5, atol=1e-5)


def test_weights_under_the_limit_stay_inside(tmp_path, rng):
    path = emit(_model(rng), tmp_path / "small.tflite").path
    assert all(offset == 0 for _, offset, _ in _buffers(path))
    assert sum(length for length, _, _ in _buffers(path)) > 64 * 64 * 4
