"""TorchScript emitter: script vs trace, dynamic dims, real control flow, a real CNN,
artifacts that run without graphkit, and analysis that matches emission."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import model_from_text, require, run_ort

torch = require("torch", "torch")

import graphkit  # noqa: E402
from graphkit.backends.torchscript import kernels  # noqa: E402
from graphkit.backends.torchscript.emitter import emit  # noqa: E402
from graphkit.backends.torchscript.lowering import unsupported_reason  # noqa: E402
from graphkit.backends.torchscript.runner import run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402

DYNAMIC = """<ir_version: 10, opset_import: ["" : 17]>
g (float[N, 3] x, float[3, 4] w) => (float[N, 4] y) {
  m = MatMul(x, w)
  y = Relu(m)
}"""


def test_every_kernel_compiles_with_torchscript():
    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.iter_modules(kernels.__path__):
            module = importlib.import_module(f"{kernels.__name__}.{info.name}")
            for name, fn in inspect.getmembers(module, inspect.isfunction):
                if fn.__module__ != module.__name__:
                    continue
                try:
                    torch.jit.script(fn)
                except Exception as err:  # noqa: BLE001 - collecting every failure
                    failures.append(f"{info.name}.{name}: {str(err).splitlines()[0]}")
    assert failures == []


def test_script_keeps_dynamic_batch(tmp_path, rng):
    model = model_from_text(DYNAMIC)
    artifact = emit(model, tmp_path / "m.pt")
    assert artifact.metadata["method"] == "script"
    assert artifact.target == "torchscript"
    w = rng.standard_normal((3, 4)).astype(np.float32)
    for batch in (2, 7):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        got = run_artifact(artifact.path, {"x": x, "w": w})
        (want,) = run_ort(model, {"x": x, "w": w})
        assert list(got) == ["y"]
        assert got["y"].shape == (batch, 4)
        np.testing.assert_allclose(got["y"], want, rtol=1e-5, atol=1e-6)


def test_trace_is_used_when_scripting_fails_and_says_so(tmp_path, rng, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("scripting refused for this test")

    monkeypatch.setattr(torch.jit, "script", refuse)
    model = model_from_text(DYNAMIC)
    examples = {"x": rng.standard_normal((2, 3)).astype(np.float32),
                "w": rng.standard_normal((3, 4)).astype(np.float32)}
    artifact = emit(model, tmp_path / "m.pt", example_inputs=examples)
    assert artifact.metadata["method"] == "trace"
    notes = " ".join(artifact.metadata["notes"])
    assert "scripting refused for this test" in notes and "shapes" in notes
    got = run_artifact(artifact.path, examples)
    np.testing.assert_allclose(got["y"], run_ort(model, examples)[0], rtol=1e-5, atol=1e-6)


def test_trace_refuses_to_invent_integer_inputs(tmp_path):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[6] x, int64[2] s) => (float[A, B] y) { y = Reshape(x, s) }""")
    with pytest.raises(InputError, match="'s' is int64"):
        emit(model, tmp_path / "m.pt", method="trace")
    assert not (tmp_path / "m.pt").exists()


IF_MODEL = """<ir_version: 10, opset_import: ["" : 17]>
g (bool c, float[N] x) => (float[N] y) {
  y = If(c) <
    then_branch = t () => (float[N] a) { a = Add(x, x) },
    else_branch = e () => (float[N] b) { b = Neg(x) }
  >
}"""

LOOP_MODEL = """<ir_version: 10, opset_import: ["" : 17]>
g (int64 n, float[2] x) => (float[2] out, float[K, 2] steps) {
  cond = Constant <value = bool {1}> ()
  out, steps = Loop(n, cond, x) <
    body = b (int64 i, bool c, float[2] acc) => (bool c2, float[2] next, float[2] seen) {
      c2 = Identity(c)
      two = Constant <value = float {2.0}> ()
      next = Mul(acc, two)
      seen = Identity(next)
    }
  >
}"""


def test_if_is_real_control_flow(tmp_path, rng):
    model = model_from_text(IF_MODEL)
    artifact = emit(model, tmp_path / "if.pt")
    assert artifact.metadata["method"] == "script"
    x = rng.standard_normal(5).astype(np.float32)
    for cond in (True, False):
        feeds = {"c": np.array(cond), "x": x}
        got = run_artifact(artifact.path, feeds)
        np.testing.assert_allclose(got["y"], run_ort(model, feeds)[0], rtol=1e-6)


def test_loop_runs_as_many_times_as_asked(tmp_path):
    model = model_from_text(LOOP_MODEL)
    artifact = emit(model, tmp_path / "loop.pt")
    assert artifact.metadata["method"] == "script"
    x = np.array([1.0, -0.5], dtype=np.float32)
    for trips in (1, 4):
        feeds = {"n": np.array(trips, dtype=np.int64), "x": x}
        got = run_artifact(artifact.path, feeds)
        want_out, want_steps = run_ort(model, feeds)
        assert got["steps"].shape == (trips, 2)
        np.testing.assert_allclose(got["out"], want_out)
        np.testing.assert_allclose(got["steps"], want_steps)


def test_artifact_runs_without_graphkit(tmp_path):
    model = model_from_text(IF_MODEL)
    path = emit(model, tmp_path / "m.pt").path
    # graphkit is made unimportable in the child: only torch may read the file.
    script = (
        "import sys; sys.modules['graphkit'] = None\n"
        "import json, torch\n"
        "extra = {'graphkit.json': ''}\n"
        f"m = torch.jit.load({str(path)!r}, _extra_files=extra)\n"
        "names = json.loads(extra['graphkit.json'])['outputs']\n"
        "y = m(torch.tensor(True), torch.tensor([1.0, 2.0]))\n"
        "print(json.dumps({names[0]: y[0].tolist()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == {"y": [2.0, 4.0]}


def test_small_cnn_from_torch_matches_onnxruntime(tmp_path):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, stride=2), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10),
        torch.nn.Softmax(dim=1),
    ).eval()
    example = torch.randn(2, 3, 32, 32)
    onnx_path = tmp_path / "cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), str(onnx_path), dynamo=False,
                          input_names=["image"], output_names=["probs"],
                          dynamic_axes={"image": {0: "batch"}})
    model = graphkit.load(onnx_path)
    artifact = emit(model, tmp_path / "cnn.pt")
    image = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    got = run_artifact(artifact.path, {"image": image})["probs"]
    (want,) = run_ort(model, {"image": image})
    assert got.shape == (3, 10)
    assert float(np.max(np.abs(got - want))) <= 1e-4


def test_unsupported_node_is_named_with_the_analysis_reason(tmp_path):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (string[2] s) => (string[2] t) { t = Identity(s) }""")
    node = next(iter(model.graph))
    node.name = "keep_text"
    reason = unsupported_reason(node, 17)
    assert reason is not None
    with pytest.raises(InputError) as caught:
        emit(model, tmp_path / "m.pt")
    assert "keep_text" in str(caught.value) and reason in str(caught.value)
    assert not (tmp_path / "m.pt").exists()


def test_mobile_export_says_what_this_torch_can_do(tmp_path):
    from graphkit.backends.torchscript.emitter import mobile_support

    artifact = emit(model_from_text(DYNAMIC), tmp_path / "m.pt", mobile=True)
    mobile = artifact.metadata["mobile"]
    why_not = mobile_support()
    if why_not is None:
        assert mobile["optimized"] is True
    else:
        assert "XNNPACK" in mobile["note"] and mobile["optimized"] is False
    assert "lite_path" in mobile or "lite_error" in mobile
