"""The TFLite emitter: .tflite files written from the IR, run in LiteRT through their
signature and compared with ONNX Runtime on real inputs."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import model_from_text, require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")
torch = require("torch", "torch")

import graphkit  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.lowering import unsupported_reason  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.cli import main  # noqa: E402
from graphkit.errors import InputError  # noqa: E402


def _export(net, example, path, **kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (example,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], opset_version=17, **kwargs)


def _max_error(got: np.ndarray, want: np.ndarray) -> float:
    assert got.shape == want.shape
    return float(np.max(np.abs(got.astype(np.float64) - want)))


class _Residual(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x)) + x)


def _cnn() -> torch.nn.Module:
    """Stem, residual block, depthwise, grouped and strided convs, pools, bilinear
    upsampling, global pooling and a classifier (logits: their spread shows that the
    outputs depend on the input): the NCHW ops a mobile CNN has."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, stride=2, padding=2), torch.nn.BatchNorm2d(8), torch.nn.ReLU6(),
        torch.nn.MaxPool2d(3, 2, 1), _Residual(8),
        torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.Hardswish(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2), torch.nn.LeakyReLU(0.1),
        torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        torch.nn.AvgPool2d(2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(16, 10),
    )
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # statistics that change the outputs
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return net


def test_cnn_matches_onnxruntime_with_one_transpose(tmp_path, rng):
    _export(_cnn(), torch.randn(1, 3, 64, 64), tmp_path / "cnn.onnx")
    image = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    artifact = graphkit.convert(tmp_path / "cnn.onnx", "tflite", tmp_path / "cnn.tflite",
                                inputs={"x": image})
    assert artifact.validated
    # the NCHW input is transposed once; every NHWC op after it keeps the layout
    assert artifact.metadata["transposes"] == 1
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "RESIZE_BILINEAR"} <= set(
        artifact.metadata["builtins"])
    other = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    got = run_artifact(artifact.path, {"x": other})["y"]
    (want,) = run_ort(graphkit.load(tmp_path / "cnn.onnx"), {"x": other})
    assert _max_error(got, want) <= 1e-5
    assert float(np.ptp(want)) > 0.1  # the outputs depend on the input


def test_bert_style_encoder_matches_onnxruntime(tmp_path, rng):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation="gelu",
                                             batch_first=True)
    net = torch.nn.Sequential(torch.nn.Embedding(50, 32),
                              torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False))
    ids = torch.randint(0, 50, (2, 12))
    _export(net, ids, tmp_path / "bert.onnx")
    feeds = {"x": rng.integers(0, 50, (2, 12)).astype(np.int64)}
    artifact = graphkit.convert(tmp_path / "bert.onnx", "tflite", tmp_path / "bert.tflite",
                                inputs=feeds)
    assert "FlexErf" not in artifact.metadata["builtins"]
    got = run_artifact(artifact.path, feeds)["y"]
    (want,) = run_ort(graphkit.load(tmp_path / "bert.onnx"), feeds)
    assert _max_error(got, want) <= 1e-4


def test_artifact_runs_with_litert_alone(tmp_path):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[2, 3] a, float[2, 3] b) => (float[2, 3] sum, float[2, 3] product) {
        sum = Add(a, b)
        product = Mul(a, b)
    }""")
    path = emit(model, tmp_path / "m.tflite").path
    # graphkit is made unimportable in the child: only LiteRT reads the file
    script = (
        "import sys; sys.modules['graphkit'] = None\n"
        "import json, numpy as np\n"
        "from ai_edge_litert.interpreter import Interpreter\n"
        f"run = Interpreter(model_path={str(path)!r}).get_signature_runner()\n"
        "a = np.arange(6, dtype=np.float32).reshape(2, 3)\n"
        "out = run(a=a, b=np.full((2, 3), 2, np.float32))\n"
        "print(json.dumps({k: v.tolist() for k, v in out.items()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "sum": [[2, 3, 4], [5, 6, 7]], "product": [[0, 2, 4], [6, 8, 10]]}


RESIZE = """<ir_version: 10, opset_import: ["" : 19]>
g (float[1, 2, 5, 7] x) => (float[1, 2, 10, 14] y) <float[4] scales = {{1.0, 1.0, 2.0, 2.0}}> {{
    y = Resize <mode = "{mode}", coordinate_transformation_mode = "{coords}",
                nearest_mode = "{nearest}"> (x, , scales)
}}"""


@pytest.mark.parametrize("mode, coords, nearest", [
    ("linear", "half_pixel", "floor"),
    ("linear", "pytorch_half_pixel", "floor"),
    ("linear", "align_corners", "floor"),
    ("linear", "asymmetric", "floor"),
    ("nearest", "asymmetric", "floor"),
    ("nearest", "half_pixel", "round_prefer_ceil"),
])
def test_resize_flags_reproduce_onnx(tmp_path, rng, mode, coords, nearest):
    model = model_from_text(RESIZE.format(mode=mode, coords=coords, nearest=nearest))
    x = rng.standard_normal((1, 2, 5, 7)).astype(np.float32)
    got = run_artifact(emit(model, tmp_path / "r.tflite").path, {"x": x})["y"]
    (want,) = run_ort(model, {"x": x})
    assert _max_error(got, want) <= 1e-5


def test_a_declined_node_has_the_same_sentence_in_diagnose_and_emit(tmp_path):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[6] x) => (float[N] y) {
        y = Unique<sorted=0>(x)
    }""")
    node = next(iter(model.graph))
    node.name = "pick"
    reason = unsupported_reason(node, 17)
    assert reason == "graphkit's TFLite emitter has no lowering for Unique yet"
    blockers = graphkit.diagnose(model, "tflite").blockers
    assert [(f.code, f.message) for f in blockers] == [("GK101", reason)]
    with pytest.raises(InputError) as caught:
        emit(model, tmp_path / "m.tflite")
    assert "pick" in str(caught.value) and reason in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_constraint_a_lowering_declines_is_a_diagnose_finding():
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (double[2, 6] x) => (float16[2, 6] y) {
        y = Cast <to = 10> (x)
    }""")
    node = next(iter(model.graph))
    from graphkit.targets._facts import infer_value_facts

    reason = unsupported_reason(node, 17, infer_value_facts(model)[0])
    assert reason is not None and reason.startswith("LiteRT's CAST rounds double to float16")
    assert reason in [f.message for f in graphkit.diagnose(model, "tflite").blockers]


def test_newer_opset_is_lowered_where_onnx_kept_the_op(tmp_path, rng):
    from onnx.defs import onnx_opset_version

    newest = onnx_opset_version()
    model = model_from_text(f"""<ir_version: 10, opset_import: ["" : {newest}]>
    g (float[2, 3] a) => (float[2, 3] y) {{ y = Sigmoid(a) }}""")
    a = rng.standard_normal((2, 3)).astype(np.float32)
    got = run_artifact(emit(model, tmp_path / "m.tflite").path, {"a": a})["y"]
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-a)), rtol=1e-5, atol=1e-6)


def test_cli_convert_and_validate(tmp_path, capsys):
    _export(_cnn(), torch.randn(1, 3, 32, 32), tmp_path / "cnn.onnx")
    out = tmp_path / "cnn.tflite"
    assert main(["convert", str(tmp_path / "cnn.onnx"), "--to", "tflite", "-o", str(out)]) == 0
    assert "1 of them TRANSPOSE" in capsys.readouterr().out
    assert main(["validate", str(out), "--reference", str(tmp_path / "cnn.onnx")]) == 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_failed_convert_leaves_the_existing_file(tmp_path):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[6] x) => (float[N] y) {
        y = Unique<sorted=0>(x)
    }""")
    out = tmp_path / "m.tflite"
    out.write_bytes(b"before")
    with pytest.raises(InputError):
        emit(model, out)
    assert out.read_bytes() == b"before"


def test_running_something_else_is_an_input_error(tmp_path):
    fake = tmp_path / "m.tflite"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="not a TFLite flatbuffer"):
        run_artifact(fake, {})


def test_nhwc_io_leaves_a_cnn_without_transpose(tmp_path, rng):
    _export(_cnn(), torch.randn(1, 3, 32, 32), tmp_path / "cnn.onnx")
    out = tmp_path / "cnn.tflite"
    assert main(["convert", str(tmp_path / "cnn.onnx"), "--to", "tflite", "-o", str(out),
                 "--nhwc-io", "--format", "json"]) == 0
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=str(out)).get_input_details()
    assert list(details[0]["shape"]) == [1, 32, 32, 3]
    image = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    (want,) = run_ort(graphkit.load(tmp_path / "cnn.onnx"), {"x": image})
    got = run_artifact(out, {"x": image})["y"]  # graphkit's runner maps NCHW to NHWC
    assert _max_error(got, want) <= 1e-5
    artifact = emit(graphkit.load(tmp_path / "cnn.onnx"), tmp_path / "again.tflite",
                    nhwc_io=True)
    assert artifact.metadata["transposes"] == 0
    assert artifact.metadata["nhwc"] == ["x"]


def test_scalar_input_stays_a_scalar(tmp_path):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float n) => (float[5] y) <float start = {0.0}, float step = {1.0}> {
        y = Range(start, n, step)
    }""")
    got = run_artifact(emit(model, tmp_path / "m.tflite").path, {"n": np.asarray(5.0, np.float32)})
    np.testing.assert_array_equal(got["y"], np.arange(5, dtype=np.float32))


class _Segmenter(torch.nn.Module):
    """DeepLabv3-style: dilated convolutions, an image-pooling branch broadcast back over
    the feature map, concatenation, bilinear upsampling to the input size."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2, 1), torch.nn.ReLU())
        self.rates = torch.nn.ModuleList(
            [torch.nn.Conv2d(16, 8, 1)]
            + [torch.nn.Conv2d(16, 8, 3, padding=r, dilation=r) for r in (2, 4)])
        self.pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Conv2d(16, 8, 1))
        self.head = torch.nn.Conv2d(32, 3, 1)

    def forward(self, x):
        features = self.stem(x)
        pooled = self.pool(features).expand(-1, -1, features.shape[2], features.shape[3])
        y = self.head(torch.cat([m(features) for m in self.rates] + [pooled], 1))
        return torch.nn.functional.interpolate(y, size=x.shape[2:], mode="bilinear",
                                               align_corners=False)


def test_segmenter_keeps_nhwc_through_its_branches(tmp_path, rng):
    torch.manual_seed(0)
    _export(_Segmenter(), torch.randn(1, 3, 32, 32), tmp_path / "seg.onnx")
    image = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    artifact = graphkit.convert(tmp_path / "seg.onnx", "tflite", tmp_path / "seg.tflite",
                                inputs={"x": image})
    assert artifact.validated
    assert artifact.metadata["transposes"] == 2  # the NCHW input and the NCHW output
    got = run_artifact(artifact.path, {"x": image})["y"]
    (want,) = run_ort(graphkit.load(tmp_path / "seg.onnx"), {"x": image})
    assert _max_error(got, want) <= 1e-5


QDQ_CONV = """<ir_version: 10, opset_import: ["" : 19]>
g (float[1, 2, 5, 5] x) => (float[1, 3, 3, 3] y)
<int8[3, 2, 3, 3] w = {WEIGHTS}, float ws = {0.05}, int8 wz = {0},
 int32[3] b = {10, -4, 7}, float bs = {0.001}, int32 bz = {0}, float xs = {0.02}, int8 xz = {3}> {
  q = QuantizeLinear(x, xs, xz)
  dq = DequantizeLinear(q, xs, xz)
  wf = DequantizeLinear(w, ws, wz)
  bf = DequantizeLinear(b, bs, bz)
  y = Conv(dq, wf, bf)
}"""


def test_qdq_conv_computes_what_onnxruntime_computes(tmp_path, rng):
    weights = ", ".join(str((i * 7) % 19 - 9) for i in range(54))
    model = model_from_text(QDQ_CONV.replace("WEIGHTS", weights))
    assert graphkit.diagnose(model, "tflite").blockers == []
    artifact = emit(model, tmp_path / "qdq.tflite")
    assert "CONV_2D" in artifact.metadata["builtins"]
    x = rng.uniform(-3, 3, (1, 2, 5, 5)).astype(np.float32)  # past int8's range: clamped
    got = run_artifact(artifact.path, {"x": x})["y"]
    (want,) = run_ort(model, {"x": x})
    assert _max_error(got, want) <= 1e-5


@pytest.mark.parametrize("include_pad", [0, 1])
def test_average_pool_counts_only_real_pixels_unless_asked(tmp_path, rng, include_pad):
    model = model_from_text(f"""<ir_version: 10, opset_import: ["" : 19]>
    g (float[1, 2, 6, 7] x) => (float[1, 2, 4, 4] y) {{
        y = AveragePool <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 2, 1],
                         count_include_pad = {include_pad}> (x)
    }}""")
    x = rng.standard_normal((1, 2, 6, 7)).astype(np.float32)
    got = run_artifact(emit(model, tmp_path / "p.tflite").path, {"x": x})["y"]
    (want,) = run_ort(model, {"x": x})
    assert _max_error(got, want) <= 1e-5


def test_dynamic_batch_stays_dynamic(tmp_path, rng):
    source = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"
    artifact = graphkit.convert(source, "tflite", tmp_path / "tiny.tflite")
    assert artifact.validated and artifact.metadata["transposes"] == 1
    model = graphkit.load(source)
    name = model.graph.inputs[0].name
    for batch in (1, 3):
        x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        got = next(iter(run_artifact(artifact.path, {name: x}).values()))
        (want,) = run_ort(model, {name: x})
        assert _max_error(got, want) <= 1e-5


def test_reshape_by_a_run_time_shape_copies_zero_dims(tmp_path, rng):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[N, M, 6] x) => (float[N, M, 3, 2] y)
    <int64[3] rest = {0, 3, 2}, int64[1] zero = {0}, int64[1] one = {1}> {
        s = Shape(x)
        batch = Slice(s, zero, one)
        target = Concat <axis = 0> (batch, rest)
        y = Reshape(x, target)
    }""")
    path = emit(model, tmp_path / "r.tflite").path
    for batch, rows in ((2, 4), (5, 1)):  # two dynamic dims: the shape is read at run time
        x = rng.standard_normal((batch, rows, 6)).astype(np.float32)
        (want,) = run_ort(model, {"x": x})
        np.testing.assert_array_equal(run_artifact(path, {"x": x})["y"], want)


def test_lrn_and_instance_norm_match_onnxruntime(tmp_path, rng):
    model = model_from_text("""<ir_version: 10, opset_import: ["" : 17]>
    g (float[2, 5, 6, 6] x) => (float[2, 5, 6, 6] y)
    <float[5] scale = {0.5, 1.0, 1.5, 2.0, 2.5}, float[5] bias = {0.1, 0.2, 0.3, 0.4, 0.5}> {
        n = LRN <size = 3, alpha = 0.01, beta = 0.75, bias = 2.0> (x)
        y = InstanceNormalization <epsilon = 0.001> (n, scale, bias)
    }""")
    x = rng.standard_normal((2, 5, 6, 6)).astype(np.float32) * 3
    artifact = emit(model, tmp_path / "n.tflite")
    assert artifact.metadata["transposes"] == 2  # in and out: both ops run on NHWC
    (want,) = run_ort(model, {"x": x})
    assert _max_error(run_artifact(artifact.path, {"x": x})["y"], want) <= 1e-4


def test_convert_lays_out_nhwc_but_a_fixed_onnx_stays_plain(tmp_path, rng):
    """convert-layout's graphkit.nhwc functions are for the emitter: convert runs it (proven,
    in its fix report), while `fix --target tflite` writes ONNX other tools can read."""
    _export(_cnn(), torch.randn(1, 3, 32, 32), tmp_path / "cnn.onnx")
    fixed, _ = graphkit.fix(tmp_path / "cnn.onnx", "tflite")
    assert {node.domain for node in fixed.graph} <= {"", "ai.onnx"}
    assert not fixed.functions
    artifact = graphkit.convert(tmp_path / "cnn.onnx", "tflite", tmp_path / "cnn.tflite")
    ran = [record["pass"] for record in artifact.metadata["fix"]["passes"]]
    assert "convert-layout" in ran
    assert artifact.metadata["transposes"] == 1  # at the NCHW image input only
    image = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    (want,) = run_ort(graphkit.load(tmp_path / "cnn.onnx"), {"x": image})
    assert _max_error(run_artifact(tmp_path / "cnn.tflite", {"x": image})["y"], want) <= 1e-5
