"""RNN/GRU/LSTM through the TorchScript emitter, checked against ONNX Runtime: the forms
the conformance cases leave out (short sequence_lens, clip, given activations,
input_forget, linear_before_reset, layout 1 with initial states), dynamic batch and
sequence, a real 2-layer torch LSTM, and precise rejections."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import require, run_ort
from onnx import TensorProto, helper

torch = require("torch", "torch")

import graphkit  # noqa: E402
from graphkit.backends.torchscript.emitter import emit  # noqa: E402
from graphkit.backends.torchscript.lowering import unsupported_reason  # noqa: E402
from graphkit.backends.torchscript.runner import run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
HIDDEN, FEATURES = 3, 2


def recurrent_model(op: str, attrs: dict, optional: tuple[str, ...], dtype=TensorProto.FLOAT
                    ) -> onnx.ModelProto:
    """One recurrent node whose weights and optional inputs are all graph inputs, with
    batch 'N' and sequence 'T' dynamic."""
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    batch_first = attrs.get("layout", 0) == 1
    gh = GATES[op] * HIDDEN
    seq_batch = ["N", "T"] if batch_first else ["T", "N"]
    state = ["N", dirs, HIDDEN] if batch_first else [dirs, "N", HIDDEN]
    shapes = {"X": [*seq_batch, FEATURES], "W": [dirs, gh, FEATURES], "R": [dirs, gh, HIDDEN],
              "B": [dirs, 2 * gh], "sequence_lens": ["N"], "initial_h": state,
              "initial_c": state, "P": [dirs, 3 * HIDDEN]}
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    used = [n for n in order if n in ("X", "W", "R") or n in optional]
    last = max(order.index(n) for n in used)
    names = [n if n in used else "" for n in order[: last + 1]]
    outputs = ["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"]
    node = helper.make_node(op, names, outputs, hidden_size=HIDDEN, **attrs)
    inputs = [helper.make_tensor_value_info(
        n, TensorProto.INT32 if n == "sequence_lens" else dtype, shapes[n]) for n in used]
    y = ["N", "T", dirs, HIDDEN] if batch_first else ["T", dirs, "N", HIDDEN]
    results = [helper.make_tensor_value_info(n, dtype, y if n == "Y" else state)
               for n in outputs]
    graph = helper.make_graph([node], op.lower(), inputs, results)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def feeds_for(proto: onnx.ModelProto, batch: int, steps: int, rng) -> dict[str, np.ndarray]:
    dims = {"N": batch, "T": steps}
    feeds = {}
    for value in proto.graph.input:
        shape = [dims.get(d.dim_param, d.dim_value) for d in value.type.tensor_type.shape.dim]
        if value.name == "sequence_lens":
            # Every entry shorter than the padded length except one: padding is exercised.
            feeds[value.name] = np.array([steps - (i % steps) for i in range(batch)], np.int32)
            continue
        feeds[value.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return feeds


def reference(op: str, attrs: dict, optional: tuple[str, ...], feeds: dict[str, np.ndarray]
              ) -> list[np.ndarray]:
    """ONNX Runtime's outputs; it has no layout=1 kernels, so a batch-first model is run
    as its layout-0 twin with inputs and outputs transposed around it."""
    if attrs.get("layout", 0) == 0:
        return run_ort(recurrent_model(op, attrs, optional), feeds)
    twin = recurrent_model(op, {k: v for k, v in attrs.items() if k != "layout"}, optional)
    batch_major = ("X", "initial_h", "initial_c")
    time_major = {name: value.swapaxes(0, 1) if name in batch_major else value
                  for name, value in feeds.items()}
    y, *states = run_ort(twin, time_major)
    return [y.transpose(2, 0, 1, 3), *(state.swapaxes(0, 1) for state in states)]


CASES = {
    "lstm_bidirectional_all_inputs": ("LSTM", {"direction": "bidirectional"},
                                      ("B", "sequence_lens", "initial_h", "initial_c", "P")),
    "lstm_batch_first_clip_input_forget": ("LSTM", {"layout": 1, "clip": 0.4, "input_forget": 1},
                                           ("B", "initial_h", "initial_c", "P")),
    "lstm_reverse_given_activations": ("LSTM", {
        "direction": "reverse", "activations": ["HardSigmoid", "LeakyRelu", "ScaledTanh"],
        "activation_alpha": [0.3, 0.2, 0.9], "activation_beta": [0.4, 1.3]},
        ("B", "sequence_lens")),
    "gru_bidirectional_linear_before_reset": ("GRU", {
        "direction": "bidirectional", "linear_before_reset": 1},
        ("B", "sequence_lens", "initial_h")),
    "gru_reverse_batch_first_clip": ("GRU", {
        "direction": "reverse", "layout": 1, "clip": 0.3,
        "activations": ["Sigmoid", "Softsign"]}, ("B", "sequence_lens", "initial_h")),
    "rnn_bidirectional_given_activations": ("RNN", {
        "direction": "bidirectional", "activations": ["Relu", "Elu"],
        "activation_alpha": [0.5]}, ("B", "sequence_lens", "initial_h")),
    "rnn_batch_first_thresholded": ("RNN", {
        "layout": 1, "activations": ["ThresholdedRelu"], "activation_alpha": [0.1]},
        ("B", "initial_h")),
    # The plain LSTM forms run as torch's fused op (kernels/recurrent.py: _fused_lstm).
    "lstm_plain_forward_with_states": ("LSTM", {}, ("B", "initial_h", "initial_c")),
    "lstm_plain_bidirectional_batch_first": ("LSTM", {"direction": "bidirectional",
                                                      "layout": 1}, ("B",)),
    "lstm_plain_without_bias": ("LSTM", {}, ()),
    "gru_affine_and_default_elu": ("GRU", {
        "activations": ["Affine", "Elu"], "activation_alpha": [0.8],
        "activation_beta": [0.1]}, ("B",)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_recurrent_form_matches_onnxruntime_at_two_sizes(name, tmp_path, rng):
    op, attrs, optional = CASES[name]
    proto = recurrent_model(op, attrs, optional)
    onnx.checker.check_model(proto)
    artifact = emit(ir.serde.deserialize_model(proto), tmp_path / f"{name}.pt")
    assert artifact.metadata["method"] == "script"
    for batch, steps in ((1, 2), (4, 5)):
        feeds = feeds_for(proto, batch, steps, rng)
        got = run_artifact(artifact.path, feeds)
        for output, want in zip(proto.graph.output, reference(op, attrs, optional, feeds),
                                strict=True):
            assert got[output.name].shape == want.shape, output.name
            np.testing.assert_allclose(got[output.name], want, rtol=1e-5, atol=1e-5,
                                       err_msg=f"{name} {output.name} at {batch}x{steps}")


@pytest.mark.parametrize("name, fused", [("lstm_plain_forward_with_states", True),
                                         ("lstm_plain_bidirectional_batch_first", True),
                                         ("lstm_bidirectional_all_inputs", False),
                                         ("lstm_reverse_given_activations", False)])
def test_only_the_plain_lstm_takes_torchs_fused_op(name, fused, tmp_path, rng):
    op, attrs, optional = CASES[name]
    proto = recurrent_model(op, attrs, optional)
    artifact = emit(ir.serde.deserialize_model(proto), tmp_path / f"{name}.pt")
    with torch.autograd.profiler.profile() as profile:  # which ops really ran
        run_artifact(artifact.path, feeds_for(proto, 2, 3, rng))
    assert any(event.name == "aten::lstm" for event in profile.function_events) is fused


def test_two_layer_torch_lstm_converts_and_validates(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import models

    onnx_path = tmp_path / "lstm.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models.export_zoo_model("lstm", onnx_path)
    artifact = graphkit.convert(onnx_path, "torchscript", tmp_path / "lstm.pt")
    assert artifact.validated
    assert max(diff.max_abs for diff in artifact.validation) <= 1e-4
    rng = np.random.default_rng(3)
    for batch, steps in ((1, 3), (6, 13)):
        x = rng.standard_normal((batch, steps, 16)).astype(np.float32)
        got = run_artifact(artifact.path, {"input": x})["output"]
        (want,) = run_ort(onnx.load(onnx_path), {"input": x})
        assert got.shape == (batch, steps, 5)
        assert float(np.max(np.abs(got - want))) <= 1e-4


REJECTED = {
    "unknown activation": ("GRU", {"activations": ["Sigmoid", "Gelu"]},
                           "activation 'Gelu' is not one the recurrent ops allow"),
    "activation count": ("LSTM", {"direction": "bidirectional",
                                  "activations": ["Sigmoid", "Tanh", "Tanh"]},
                         "needs 6 activations, the node lists 3"),
    "float16": ("RNN", {}, "not lowered for float16 tensors"),
    "no trusted default": ("RNN", {"activations": ["ThresholdedRelu"]},
                           "'ThresholdedRelu' needs its alpha/beta given"),
}


@pytest.mark.parametrize("name", list(REJECTED))
def test_unlowered_forms_are_rejected_with_the_reason(name, tmp_path):
    op, attrs, message = REJECTED[name]
    dtype = TensorProto.FLOAT16 if name == "float16" else TensorProto.FLOAT
    model = ir.serde.deserialize_model(recurrent_model(op, attrs, (), dtype))
    reason = unsupported_reason(next(iter(model.graph)), 17)
    assert reason is not None and message in reason
    with pytest.raises(InputError, match=message):
        emit(model, tmp_path / "m.pt")
