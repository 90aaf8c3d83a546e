"""Real models built in code convert to .tflite, run in LiteRT and match the original.

torch -> ONNX -> graphkit.convert (fix for tflite, emit, validate against ONNX Runtime on
the original), and Keras -> tf2onnx -> graphkit, whose .tflite is compared with the Keras
model itself. Inputs are chosen so that the outputs move with them (their spread is
checked), else a 1e-4 match would prove little. Widths and resolutions are small; the
Keras ones (tf2onnx takes seconds) are marked slow.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import require

require("ai_edge_litert.interpreter", "tensorflow")
torch = require("torch", "torch")

import graphkit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.validation import ModelRunner  # noqa: E402

TOOLS = Path(__file__).resolve().parents[2] / "tools"
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import keras_models  # noqa: E402
import models  # noqa: E402
from ir3_models import light_model, small_ir3_model  # noqa: E402

ATOL, RTOL = 1e-4, 1e-3


def _within(actual: np.ndarray, expected: np.ndarray) -> None:
    """1e-4 absolute, or 1e-3 relative to the output's scale where outputs are large."""
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected))))
    error = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    assert error <= max(ATOL, RTOL * scale) if scale > 10 else error <= ATOL, error


def _signatures(path) -> dict[str, list[int]]:
    """Each input's and output's shape_signature (-1: dynamic), as LiteRT reads it."""
    from ai_edge_litert.interpreter import Interpreter

    model = Interpreter(str(path))
    return {d["name"]: d["shape_signature"].tolist()
            for d in [*model.get_input_details(), *model.get_output_details()]}


def _converts(source, tmp_path, feeds, name: str, **options) -> graphkit.Artifact:
    artifact = graphkit.convert(source, "tflite", tmp_path / f"{name}.tflite", inputs=feeds,
                                **options)
    assert artifact.validated, artifact.to_json()["validation"]
    expected = ModelRunner(graphkit.load(source)).run(feeds)
    got = run_artifact(artifact.path, feeds)
    for key, value in expected.items():
        _within(got[key], value)
        assert np.ptp(value) > 1e-2, f"{name}: output '{key}' hardly depends on the input"
    return artifact


@pytest.mark.parametrize("name", ["resnet", "unet", "deeplab", "lstm"])
def test_torch_model_converts_within_tolerance(tmp_path, name):
    _, example, _ = models.ZOO[name]()
    source = models.export_zoo_model(name, tmp_path / f"{name}.onnx")
    feeds = {value.name: tensor.numpy() for value, tensor
             in zip(graphkit.load(source).graph.inputs, example)}
    artifact = _converts(source, tmp_path, feeds, name)
    if name != "lstm":  # an NCHW CNN: one TRANSPOSE in, one out where the output is NCHW
        assert artifact.metadata["transposes"] <= 2, artifact.metadata["builtins"]
        return
    # batch and sequence dynamic, not unrolled: one .tflite runs other batches and lengths,
    # and a second run at the first shape (the LSTM's states are reset on every run)
    assert artifact.metadata["builtins"].get("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2
    assert _signatures(artifact.path) == {"input": [-1, -1, 16], "output": [-1, -1, 5]}
    reference = ModelRunner(graphkit.load(source))
    for batch, length in ((2, 3), (1, 25), (4, 9), (2, 7)):
        other = {"input": np.random.default_rng(length).standard_normal(
            (batch, length, 16)).astype(np.float32)}
        got = run_artifact(artifact.path, other)["output"]
        assert got.shape == (batch, length, 5)
        _within(got, reference.run(other)["output"])


def test_a_cnn_with_nhwc_io_has_no_transpose(tmp_path):
    _, example, _ = models.ZOO["deeplab"]()
    source = models.export_zoo_model("deeplab", tmp_path / "deeplab.onnx")
    feeds = {"input": example[0].numpy()}
    artifact = graphkit.convert(source, "tflite", tmp_path / "d.tflite", inputs=feeds,
                                nhwc_io=True)
    assert artifact.validated
    assert artifact.metadata["transposes"] == 0, artifact.metadata["builtins"]


def test_bert_encoder_from_a_transformers_config(tmp_path, rng):
    """From a transformers config (no download), batch and sequence dynamic as exported: one
    .tflite (its inputs' shape_signature -1, -1) runs at several batches and lengths."""
    source = models.export_zoo_model("bert", tmp_path / "bert.onnx")
    feeds = {"input_ids": rng.integers(0, 100, (2, 12)).astype(np.int64),
             "attention_mask": np.ones((2, 12), np.int64)}
    feeds["attention_mask"][1, 8:] = 0  # padding: the mask matters
    artifact = _converts(source, tmp_path, feeds, "bert")
    assert _signatures(artifact.path) == {"input_ids": [-1, -1], "attention_mask": [-1, -1],
                                          "output": [-1, -1, 64]}
    reference = ModelRunner(graphkit.load(source))
    for batch, length in [(1, 5), (3, 20)]:
        other = {"input_ids": rng.integers(0, 100, (batch, length)).astype(np.int64),
                 "attention_mask": np.ones((batch, length), np.int64)}
        other["attention_mask"][-1, length // 2:] = 0
        expected = reference.run(other)["output"]
        got = run_artifact(artifact.path, other)["output"]
        assert got.shape == (batch, length, expected.shape[-1])
        _within(got, expected)


def _export(net, example: tuple, path: Path, names: list[str], dynamic=None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), example, str(path), dynamo=False, opset_version=17,
                          input_names=names, output_names=["output"], dynamic_axes=dynamic)
    return path


class _TinyViT(torch.nn.Module):
    """Patch embedding (a strided Conv), class token, position embedding, two pre-norm
    encoder blocks, the class token's logits."""

    def __init__(self, size: int = 32, patch: int = 8, dim: int = 32) -> None:
        super().__init__()
        self.embed = torch.nn.Conv2d(3, dim, patch, patch)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, dim))
        self.position = torch.nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim))
        layer = torch.nn.TransformerEncoderLayer(dim, 4, 64, dropout=0.0, batch_first=True,
                                                 norm_first=True, activation="gelu")
        self.blocks = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(dim, 10)

    def forward(self, image):
        tokens = self.embed(image).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(image.shape[0], -1, -1), tokens], dim=1)
        return self.head(self.blocks(tokens + self.position)[:, 0])


def test_vit(tmp_path, rng):
    torch.manual_seed(0)
    image = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    source = _export(_TinyViT(), (torch.from_numpy(image),), tmp_path / "vit.onnx", ["image"])
    _converts(source, tmp_path, {"image": image}, "vit")


def test_gpt2_with_its_causal_mask(tmp_path, rng):
    """GPT-2 from a transformers config (the dynamo exporter: the TorchScript one has no
    aten::diff): the causal mask (a Where) is lowered, not lost."""
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=100, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False)
    net = GPT2Model(config).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gpt2 = net

        def forward(self, input_ids):
            return self.gpt2(input_ids=input_ids).last_hidden_state

    ids = rng.integers(0, 100, (1, 16)).astype(np.int64)
    source = tmp_path / "gpt2.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden().eval(), (torch.from_numpy(ids),), str(source), dynamo=True,
                          opset_version=18, input_names=["input_ids"],
                          output_names=["output"], verbose=False)
    _converts(source, tmp_path, {"input_ids": ids}, "gpt2")
    # causal: changing the last token leaves every earlier position as it was
    changed = ids.copy()
    changed[0, -1] = (changed[0, -1] + 1) % 100
    before = run_artifact(tmp_path / "gpt2.tflite", {"input_ids": ids})["output"]
    after = run_artifact(tmp_path / "gpt2.tflite", {"input_ids": changed})["output"]
    np.testing.assert_allclose(after[0, :-1], before[0, :-1], atol=1e-5)
    assert np.abs(after[0, -1] - before[0, -1]).max() > 1e-3


def test_ir3_zoo_style_models(tmp_path, rng):
    """Initializers that are graph inputs too, ConstantOfShape weights (folded by fix), and
    AlexNet's grouped convolutions. The 'light' AlexNet's weights are all 0.02, so its
    softmax is uniform whatever the input: it is compared up to its last grouped
    convolution, whose output does move with the input."""
    small = small_ir3_model()
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    source = tmp_path / "small_ir3.onnx"
    graphkit.save(small, source)
    _converts(source, tmp_path, {"x": x}, "small_ir3")
    proto = onnx.load(str(light_model("bvlc_alexnet")))
    del proto.graph.output[:]
    proto.graph.output.append(onnx.helper.make_tensor_value_info("r12", onnx.TensorProto.FLOAT,
                                                                 None))
    alexnet = tmp_path / "alexnet_to_conv5.onnx"
    onnx.save(proto, str(alexnet))
    image = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    artifact = _converts(alexnet, tmp_path, {"data_0": image}, "alexnet")
    assert artifact.metadata["builtins"].get("CONV_2D", 0) > 5  # groups as SPLIT + CONV_2D


@pytest.mark.slow
@pytest.mark.parametrize("name", keras_models.KERAS)
def test_keras_application_through_tf2onnx(tmp_path, name):
    """The .tflite against the Keras model itself: TF's own op counts (tools/bench_tflite.py
    compares them with TFLiteConverter) and no TRANSPOSE."""
    net = keras_models.keras_model(name, 96)
    source = keras_models.export_keras(net, tmp_path / f"{name}.onnx")
    scale = 255.0 if name == "efficientnet_b0" else 1.0  # its own rescaling comes first
    image = (np.random.default_rng(0).random((1, 96, 96, 3)) * scale).astype(np.float32)
    other = (np.random.default_rng(1).random((1, 96, 96, 3)) * scale).astype(np.float32)
    artifact = graphkit.convert(source, "tflite", tmp_path / f"{name}.tflite",
                                inputs={"input": image})
    assert artifact.validated, artifact.to_json()["validation"]
    assert artifact.metadata["transposes"] == 0, artifact.metadata["builtins"]
    for feed in (image, other):
        expected = net(feed, training=False).numpy()
        [got] = run_artifact(artifact.path, {"input": feed}).values()
        _within(got, expected)
    spread = np.abs(net(image).numpy() - net(other).numpy()).max()
    assert spread > 1e-3, f"{name}: features hardly depend on the input ({spread})"
