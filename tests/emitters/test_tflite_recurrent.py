"""ONNX LSTM, GRU and RNN through the TFLite emitter: UNIDIRECTIONAL_SEQUENCE_LSTM where it
fits, else unrolled; every output run in LiteRT and compared with ONNX Runtime."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from conftest import require, run_ort
from onnx import TensorProto, helper

require("ai_edge_litert.interpreter", "tensorflow")
torch = require("torch", "torch")

import graphkit  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import SIGNATURE_KEY, interpreter, run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402
from graphkit.ir import model_from_proto  # noqa: E402

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
HIDDEN, DEPTH, BATCH, SEQ = 5, 3, 2, 4


def _recurrent(op: str, *, seq: int | str = SEQ, initial: bool = False, peephole: bool = False,
               outputs: tuple[str, ...] = ("Y", "Y_h"), seed: int = 0, fed: bool = False,
               batch: int | str = BATCH, **attrs):
    """One recurrent node with random weights; `initial`: initial states are graph inputs;
    `fed`: the weights are graph inputs too (else constants); attrs["layout"] 1: batch
    first."""
    rng = np.random.default_rng(seed)
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    rows = GATES[op] * HIDDEN
    first = attrs.get("layout", 0) == 1
    weights = {"W": [dirs, rows, DEPTH], "R": [dirs, rows, HIDDEN], "B": [dirs, 2 * rows]}
    if peephole:
        weights["P"] = [dirs, 3 * HIDDEN]
    inits, inputs = [], [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [batch, seq, DEPTH] if first else [seq, batch, DEPTH])]
    for name, shape in weights.items():
        if fed:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        else:
            data = rng.uniform(-1, 1, shape).ravel()
            inits.append(helper.make_tensor(name, TensorProto.FLOAT, shape, data))
    state = [batch, dirs, HIDDEN] if first else [dirs, batch, HIDDEN]
    names = ["X", "W", "R", "B", ""]
    for name in ["h0", "c0"] if op == "LSTM" else ["h0"]:
        names.append(name if initial else "")
        if initial:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, state))
    names += ["P"] if peephole else []
    all_outputs = ["Y", "Y_h", "Y_c"][:2 if op != "LSTM" else 3]
    node = helper.make_node(op, names, [o if o in outputs else "" for o in all_outputs],
                            hidden_size=HIDDEN, **attrs)
    shapes = {"Y": [batch, seq, dirs, HIDDEN] if first else [seq, dirs, batch, HIDDEN],
              "Y_h": state, "Y_c": state}
    graph = helper.make_graph([node], "g", inputs, [
        helper.make_tensor_value_info(o, TensorProto.FLOAT, shapes[o]) for o in outputs], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model_from_proto(proto)


def _feeds(model, rng, seq: int = SEQ) -> dict[str, np.ndarray]:
    feeds = {}
    for value in model.graph.inputs:
        shape = [seq if not isinstance(d, int) else d for d in value.shape]
        feeds[value.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _check(model, tmp_path, rng, seq: int = SEQ) -> dict:
    """Convert, run in LiteRT and compare every output with ONNX Runtime; the builtins."""
    artifact = emit(model, tmp_path / "m.tflite")
    feeds = _feeds(model, rng, seq)
    got = run_artifact(artifact.path, feeds)
    want = run_ort(model, feeds)
    for value, expected in zip(model.graph.outputs, want, strict=True):
        assert got[value.name].shape == expected.shape
        np.testing.assert_allclose(got[value.name], expected, atol=1e-5, rtol=1e-5)
    assert graphkit.diagnose(model, "tflite").blockers == []
    return artifact.metadata["builtins"]


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("initial", [False, True])
def test_lstm_as_the_sequence_builtin(tmp_path, rng, direction, initial):
    model = _recurrent("LSTM", direction=direction, initial=initial, peephole=initial)
    builtins = _check(model, tmp_path, rng)
    assert builtins["UNIDIRECTIONAL_SEQUENCE_LSTM"] == (2 if direction == "bidirectional" else 1)


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_whose_cell_state_is_read_is_unrolled(tmp_path, rng, direction):
    model = _recurrent("LSTM", direction=direction, initial=True, peephole=True,
                       outputs=("Y", "Y_h", "Y_c"))
    builtins = _check(model, tmp_path, rng)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in builtins
    assert builtins["FULLY_CONNECTED"] >= SEQ


def test_lstm_with_a_dynamic_sequence_length_runs_any_length(tmp_path, rng):
    model = _recurrent("LSTM", seq="T")
    path = emit(model, tmp_path / "m.tflite").path
    for seq in (1, 3, 9):
        feeds = _feeds(model, rng, seq)
        got = run_artifact(path, feeds)
        for value, want in zip(model.graph.outputs, run_ort(model, feeds), strict=True):
            np.testing.assert_allclose(got[value.name], want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_with_dynamic_batch_and_sequence_is_the_builtin(tmp_path, rng, direction):
    """Zero initial states: the state tensors are filled to the batch read at run time, anew
    on every call (the first shape comes back last)."""
    model = _recurrent("LSTM", seq="T", batch="N", direction=direction)
    artifact = emit(model, tmp_path / "m.tflite")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in artifact.metadata["builtins"]
    assert graphkit.diagnose(model, "tflite").blockers == []
    for seq, batch in ((4, 2), (9, 1), (3, 5), (4, 2)):
        feeds = {"X": rng.standard_normal((seq, batch, DEPTH)).astype(np.float32)}
        got = run_artifact(artifact.path, feeds)
        for value, want in zip(model.graph.outputs, run_ort(model, feeds), strict=True):
            assert got[value.name].shape == want.shape
            np.testing.assert_allclose(got[value.name], want, atol=1e-5, rtol=1e-5)


def test_the_builtins_state_starts_from_the_initial_state_on_every_call(tmp_path, rng):
    """The state tensors are variables LiteRT keeps between calls: written anew each call."""
    model = _recurrent("LSTM", initial=True)
    runner = interpreter(emit(model, tmp_path / "m.tflite").path).get_signature_runner(
        SIGNATURE_KEY)
    feeds = _feeds(model, rng)
    (want, _) = run_ort(model, feeds)
    for _ in range(3):
        np.testing.assert_allclose(runner(**feeds)["Y"], want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("before", [0, 1])
@pytest.mark.parametrize("initial", [False, True])
def test_gru_unrolled(tmp_path, rng, direction, before, initial):
    model = _recurrent("GRU", direction=direction, linear_before_reset=before, initial=initial)
    assert "FULLY_CONNECTED" in _check(model, tmp_path, rng)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_weights_given_as_inputs_are_unrolled(tmp_path, rng, op):
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    model = _recurrent(op, fed=True, initial=True, direction="bidirectional",
                       peephole=op == "LSTM", **extra)
    builtins = _check(model, tmp_path, rng)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in builtins and "STRIDED_SLICE" in builtins


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_batch_first_layout_matches_the_same_weights_time_first(tmp_path, rng, op):
    """ONNX Runtime runs no layout=1: the reference is the layout=0 node on swapped data."""
    model = _recurrent(op, layout=1, initial=True, direction="bidirectional", seed=4)
    reference = _recurrent(op, initial=True, direction="bidirectional", seed=4)
    feeds = _feeds(model, rng)
    got = run_artifact(emit(model, tmp_path / "m.tflite").path, feeds)
    want = run_ort(reference, {name: value.transpose(1, 0, 2) for name, value in feeds.items()})
    np.testing.assert_allclose(got["Y"], want[0].transpose(2, 0, 1, 3), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got["Y_h"], want[1].transpose(1, 0, 2), atol=1e-5, rtol=1e-5)
    assert graphkit.diagnose(model, "tflite").blockers == []


@pytest.mark.parametrize("activations", [None, ["Relu"], ["Relu", "Sigmoid"]])
def test_rnn_unrolled(tmp_path, rng, activations):
    direction = "bidirectional" if activations and len(activations) == 2 else "forward"
    attrs = {"activations": activations} if activations else {}
    _check(_recurrent("RNN", direction=direction, initial=True, **attrs), tmp_path, rng)


@pytest.mark.parametrize("op, attrs, reason", [
    ("GRU", {"seq": "T"}, "GRU is unrolled: it needs a static sequence length"),
    ("RNN", {"seq": 1025}, "RNN over 1025 steps: graphkit unrolls at most 1024"),
    ("LSTM", {"input_forget": 1}, "LSTM with input_forget=1 (coupled gates) is not lowered"),
    ("RNN", {"clip": 1.0}, "RNN's clip is not lowered"),
    ("GRU", {"activations": ["HardSigmoid", "Tanh"]},
     "GRU's activations must be among ['Relu', 'Sigmoid', 'Tanh']"),
])
def test_what_is_not_lowered_is_refused_alike_by_diagnose_and_emit(tmp_path, op, attrs, reason):
    model = _recurrent(op, **attrs)
    assert reason in [f.message for f in graphkit.diagnose(model, "tflite").blockers]
    with pytest.raises(InputError) as refused:
        emit(model, tmp_path / "m.tflite")
    assert reason in str(refused.value)


class _TwoLayerLSTM(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, num_layers=2)
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y)


def test_torch_two_layer_lstm_converts_and_validates(tmp_path, rng):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_TwoLayerLSTM().eval(), (torch.randn(6, 2, 8),),
                          str(tmp_path / "lstm.onnx"), dynamo=False, input_names=["x"],
                          output_names=["y"], opset_version=17)
    x = rng.standard_normal((6, 2, 8)).astype(np.float32)
    artifact = graphkit.convert(tmp_path / "lstm.onnx", "tflite", tmp_path / "lstm.tflite",
                                inputs={"x": x})
    assert artifact.validated
    assert artifact.metadata["builtins"]["UNIDIRECTIONAL_SEQUENCE_LSTM"] == 2
    got = run_artifact(artifact.path, {"x": x})["y"]
    (want,) = run_ort(onnx.load(tmp_path / "lstm.onnx"), {"x": x})
    assert np.std(want) > 0.05  # the outputs depend on the input
    assert float(np.max(np.abs(got - want))) < 1e-4
