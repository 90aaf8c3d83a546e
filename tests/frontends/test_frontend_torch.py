"""torch frontend: exported graphs compute what the nn.Module computes, on real inputs."""

from __future__ import annotations

import sys

import numpy as np
import onnx_ir as ir
import pytest
import torch
from conftest import run_ort
from torch import nn

import graphkit
from graphkit.errors import InputError, MissingDependencyError
from graphkit.frontends._provenance import read_provenance
from graphkit.validation import ModelRunner, choose_input_shapes, recorded_example_shapes

ATOL = 1e-4


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    # Non-trivial running statistics, so that eval-mode BatchNorm is really exercised.
    with torch.no_grad():
        model(torch.randn(8, 3, 16, 16))
    return model


class Tagger(nn.Module):
    """Token embeddings -> per-head scores: its shapes follow batch and seq at run time."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.proj = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.proj(self.embed(tokens)))
        heads = h.view(tokens.shape[0], tokens.shape[1], 4, 4).softmax(dim=1)
        return heads.sum(-1) * mask.unsqueeze(-1)


def _torch_out(module: nn.Module, *inputs: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return module.eval()(*inputs).numpy()


def test_cnn_matches_torch_and_keeps_module_mode(rng):
    module = _cnn().train()
    module[1].eval()  # a submodule in its own mode must get it back
    x = torch.from_numpy(rng.standard_normal((2, 3, 16, 16)).astype(np.float32))
    model = graphkit.load(module, example_inputs=x, opset=17)

    assert module.training and module[0].training and not module[1].training
    assert [v.name for v in model.graph.inputs] == ["input"]
    assert [v.name for v in model.graph.outputs] == ["output"]
    (got,) = run_ort(model, {"input": x.numpy()})
    expected = _torch_out(module, x)
    assert got.shape == (2, 10)
    assert np.abs(got - expected).max() <= ATOL


def test_provenance_and_example_shapes(rng):
    x = torch.randn(2, 3, 16, 16)
    model = graphkit.load(_cnn(), example_inputs=(x,), opset=17)
    meta = read_provenance(model)
    assert meta["framework"] == "torch"
    assert meta["framework_version"] == torch.__version__
    assert meta["exporter"] == "torch.onnx-torchscript"
    assert meta["opset"] == "17"
    assert meta["source"] == "Sequential"
    assert recorded_example_shapes(model) == {"input": (2, 3, 16, 16)}


def test_dynamic_batch_and_seq_stay_dynamic(rng):
    torch.manual_seed(0)
    module = Tagger()
    tokens, mask = torch.randint(0, 50, (2, 5)), torch.ones(2, 5)
    axes = {"tokens": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}}
    model = graphkit.load(module, example_inputs=(tokens, mask), dynamic_axes=axes)

    dims = [str(d) for d in model.graph.inputs[0].shape]
    assert dims == ["batch", "seq"]
    for batch, seq in [(1, 3), (4, 9)]:
        tok = torch.from_numpy(rng.integers(0, 50, (batch, seq)))
        msk = torch.from_numpy((rng.random((batch, seq)) > 0.3).astype(np.float32))
        (got,) = run_ort(model, {"tokens": tok.numpy(), "mask": msk.numpy()})
        expected = _torch_out(module, tok, msk)
        assert got.shape == (batch, seq, 4)
        assert np.abs(got - expected).max() <= ATOL


def test_dynamo_exporter(rng):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 12), nn.GELU(), nn.LayerNorm(12), nn.Linear(12, 3))
    x = torch.randn(4, 6)
    model = graphkit.load(
        module,
        example_inputs=x,
        exporter="dynamo",
        input_names=["features"],
        dynamic_axes={"features": {0: "batch"}},
    )
    assert read_provenance(model)["exporter"] == "torch.onnx-dynamo"
    assert str(model.graph.inputs[0].shape[0]) == "batch"
    # Weights were copied out of the export folder: the model stands alone.
    weights = [v.const_value for v in model.graph.initializers.values()]
    assert weights and not any(isinstance(w, ir.ExternalTensor) for w in weights)
    for batch in (1, 7):
        x = torch.from_numpy(rng.standard_normal((batch, 6)).astype(np.float32))
        (got,) = run_ort(model, {"features": x.numpy()})
        assert np.abs(got - _torch_out(module, x)).max() <= ATOL


def test_recorded_shapes_let_validation_run_a_frozen_dim():
    class Frozen(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(3, -1) * 2.0  # tracing bakes the 3 in, batch is declared dynamic

    model = graphkit.load(
        Frozen(), example_inputs=torch.randn(3, 4), dynamic_axes={"x": {0: "batch"}}
    )
    assert str(model.graph.inputs[0].shape[0]) == "batch"
    choice = choose_input_shapes(model, ModelRunner(model))
    assert choice.shapes == {"x": (3, 4)}


def test_export_failure_names_module_and_op():
    class Eig(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.eigvals(x).real

    with pytest.raises(InputError) as caught:
        graphkit.load(Eig(), example_inputs=torch.randn(3, 3))
    message = str(caught.value)
    assert message.startswith("Eig: torch.onnx.export (torchscript) failed at aten::linalg_eigvals")
    assert "\n" not in message


def test_dynamo_failure_names_the_line_of_forward():
    class Branchy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:  # control flow on a value: torch.export cannot trace it
                return x * 2.0
            return x

    with pytest.raises(InputError) as caught:
        graphkit.load(Branchy(), example_inputs=torch.randn(3, 3), exporter="dynamo")
    message = str(caught.value)
    assert message.startswith("Branchy: torch.onnx.export (dynamo) failed in ")
    assert "test_frontend_torch.py:" in message and "(forward)" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "example_inputs"),
        ({"example_inputs": torch.randn(1, 3), "exporter": "jit"}, "exporter"),
        ({"example_inputs": torch.randn(1, 3), "opset": 99}, "opset"),
        ({"example_inputs": torch.randn(1, 3), "dynamic_axes": {"nope": {0: "b"}}}, "dynamic_axes"),
        ({"example_inputs": torch.randn(1, 3), "dynamic_axes": {"input": [2]}}, "dynamic_axes"),
        ({"example_inputs": torch.randn(1, 3), "input_names": ["a", "b"]}, "input_names"),
        ({"example_inputs": [torch.randn(1, 3), "text"]}, "example_inputs"),
        ({"example_inputs": torch.randn(1, 3), "batch_size": 4}, "batch_size"),
    ],
)
def test_wrong_options_name_the_option(options, named):
    module = nn.Linear(3, 2)
    with pytest.raises(InputError, match=f"'{named}'"):
        graphkit.load(module, **options)


def test_missing_torch_is_a_missing_dependency(monkeypatch):
    from graphkit.frontends import torch as torch_frontend

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingDependencyError, match="'torch'"):
        torch_frontend.load_module(object(), example_inputs=None)


def test_dynamo_without_onnxscript_is_a_missing_dependency(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(MissingDependencyError, match="'onnxscript'"):
        graphkit.load(nn.Linear(3, 2), example_inputs=torch.randn(1, 3), exporter="dynamo")
