"""graphkit.fix --pin: a pin fixes exactly the dims it names; a target that needs static shapes
gets the recorded export sizes for the rest, and the report says so."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import model_from_text, run_ort

import graphkit
from graphkit.cli import main
from graphkit.validation import record_example_shapes

# Token ids and a mask, [batch, seq] both, as a BERT export has them: an embedding Gather, the
# mask broadcast over the hidden dim, and Shape-fed Reshapes around a MatMul.
BERT_LIKE = """
<ir_version: 10, opset_import: ["" : 17]>
g (int64[batch, seq] ids, int64[batch, seq] mask) => (float[batch, seq, 4] y) {
    table = Constant <value = float[6, 4] {0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, -0.9, 1.0,
                                           1.1, 1.2, -1.3, 1.4, 1.5, 1.6, 1.7, -1.8, 1.9, 2.0,
                                           2.1, 2.2, 2.3, -2.4}> ()
    emb = Gather <axis = 0> (table, ids)
    maskf = Cast <to = 1> (mask)
    two = Constant <value = int64[1] {2}> ()
    m3 = Unsqueeze(maskf, two)
    h = Mul(emb, m3)
    s = Shape(h)
    rows = Constant <value = int64[2] {-1, 4}> ()
    flat = Reshape(h, rows)
    w = Constant <value = float[4, 4] {1.0, 0.5, 0.0, -1.0, 0.25, 1.0, 2.0, 0.0, 0.0, -0.5, 1.0,
                                       3.0, 1.5, 0.0, 0.75, 1.0}> ()
    p = MatMul(flat, w)
    y = Reshape(p, s)
}
"""

# tflite needs Trilu's input static (GK301): both dims must be pinned.
NEEDS_STATIC = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[batch, seq] x) => (float[batch, seq] y) {
    y = Trilu <upper = 1> (x)
}
"""


def _dims(model) -> dict[str, list]:
    return {v.name: [d if isinstance(d, int) else d.value for d in v.shape]
            for v in model.graph.inputs}


def _assert_same_outputs(original, fixed, feeds) -> None:
    np.testing.assert_allclose(run_ort(fixed, feeds)[0], run_ort(original, feeds)[0],
                               rtol=1e-6, atol=1e-6)


def _bert_feeds(rng, batch: int, seq: int) -> dict[str, np.ndarray]:
    return {"ids": rng.integers(0, 6, (batch, seq)).astype(np.int64),
            "mask": rng.integers(0, 2, (batch, seq)).astype(np.int64)}


@pytest.mark.parametrize("pin", [("batch=1",), "batch=1"])  # the README's call; one plain str
def test_pin_batch_fixes_batch_and_leaves_seq_dynamic(rng, pin):
    model = model_from_text(BERT_LIKE)
    fixed, report = graphkit.fix(model, "tensorrt", pin=pin)
    assert _dims(fixed) == {"ids": [1, "seq"], "mask": [1, "seq"]}
    assert report.fixed and report.validated
    for seq in (3, 7):  # seq still varies
        _assert_same_outputs(model, fixed, _bert_feeds(rng, 1, seq))


def test_pin_of_one_input_fixes_the_dims_it_shares_with_the_others(rng):
    model = model_from_text(BERT_LIKE)
    fixed, report = graphkit.fix(model, "ort", pin=("ids=2x5",))
    assert _dims(fixed) == {"ids": [2, 5], "mask": [2, 5]}
    assert report.validated and report.input_shapes == {"ids": (2, 5), "mask": (2, 5)}
    _assert_same_outputs(model, fixed, _bert_feeds(rng, 2, 5))


def test_pin_must_be_strings():
    with pytest.raises(TypeError, match="pin takes strings like 'batch=1'"):
        graphkit.fix(model_from_text(BERT_LIKE), "ort", pin=[1])


@pytest.mark.parametrize("pin, fixed_dims", [("batch=1", [1, 5]), ("seq=3", [2, 3])])
def test_a_target_needing_static_shapes_gets_the_recorded_size_for_the_rest(rng, pin,
                                                                             fixed_dims):
    model = model_from_text(NEEDS_STATIC)
    record_example_shapes(model, {"x": (2, 5)})
    fixed, report = graphkit.fix(model, "tflite", pin=(pin,))
    assert report.fixed and report.validated
    assert _dims(fixed) == {"x": fixed_dims}
    notes = [c for record in report.passes if record.name == "pin-shapes" for c in record.changes]
    assert any("the recorded export size" in note for note in notes), notes
    _assert_same_outputs(model, fixed, {"x": rng.standard_normal(fixed_dims).astype(np.float32)})


def test_without_a_recorded_size_the_blocker_names_the_dim_to_pin():
    fixed, report = graphkit.fix(model_from_text(NEEDS_STATIC), "tflite", pin=("seq=3",))
    assert _dims(fixed) == {"x": ["batch", 3]}
    [(finding, why)] = report.unresolved
    assert finding.code == "GK301" and "--pin batch=SIZE" in why
    assert report.validated


def test_cli_pin_seq_for_tflite_exits_0_and_a_zero_pin_exits_2(tmp_path, rng, capsys):
    model = model_from_text(NEEDS_STATIC)
    record_example_shapes(model, {"x": (2, 5)})
    source, out = tmp_path / "m.onnx", tmp_path / "fixed.onnx"
    graphkit.save(model, source)
    assert main(["fix", str(source), "-t", "tflite", "--pin", "seq=4", "-o", str(out),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validation"]["ok"] and report["validation"]["input_shapes"] == {"x": [2, 4]}
    _assert_same_outputs(model, graphkit.load(out), {"x": rng.standard_normal((2, 4)).astype(
        np.float32)})
    assert main(["fix", str(source), "-t", "tensorrt", "--pin", "batch=0",
                 "-o", str(tmp_path / "zero.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pin 'batch=0'" in err and "at least 1" in err
    assert not (tmp_path / "zero.onnx").exists()


def test_pins_that_contradict_the_given_inputs_are_refused_not_rolled_back(rng):
    from graphkit.errors import InputError

    model = model_from_text(BERT_LIKE)
    feeds = _bert_feeds(rng, 2, 5)
    with pytest.raises(InputError, match="pins give input 'ids' shape 1xseq, but the given "
                                         "inputs have it 2x5"):
        graphkit.fix(model, "tensorrt", pin=("batch=1",), inputs=feeds)
    fixed, report = graphkit.fix(model, "tensorrt", pin=("batch=2",), inputs=feeds)
    assert _dims(fixed) == {"ids": [2, "seq"], "mask": [2, "seq"]}
    assert report.validated and not any(record.rolled_back for record in report.passes)
    _assert_same_outputs(model, fixed, feeds)
