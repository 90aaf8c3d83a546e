"""Every model of the ONNX backend test corpus survives graphkit's load + save losslessly.

For each case: load_onnx, save_onnx, then the saved file must pass onnx.checker wherever the
original does, keep every field of the original (see _ir_corpus.structure_lost), and give
bit-identical ONNX Runtime outputs on the case's own inputs wherever ORT runs the original.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import pytest
from _ir_corpus import corpus, run, same_bits, session, short, structure_lost

from graphkit.ir import load_onnx, save_onnx


def _checker_ok(proto: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(proto)
    except Exception:
        return False
    return True


def _round_trip(case, tmp: Path, counts: Counter, problems: list[str], cannot: Counter) -> None:
    source = case.path
    if source is None:
        source = tmp / "in.onnx"
        onnx.save(case.proto, source)
    original = onnx.load(source)
    model = load_onnx(source)
    counts["loaded"] += 1
    save_onnx(model, tmp / "out.onnx")
    counts["saved"] += 1
    saved = onnx.load(tmp / "out.onnx")
    if not _checker_ok(original):
        counts["checker rejects the original too"] += 1
    elif _checker_ok(saved):
        counts["checker-ok"] += 1
    else:
        problems.append(f"{case.name}: the checker rejects the saved model")
    lost = structure_lost(original, saved)
    if lost:
        problems.append(f"{case.name}: {lost}")
    else:
        counts["structure kept"] += 1
    _compare_outputs(case, original, saved, counts, problems, cannot)


def _compare_outputs(case, original, saved, counts, problems, cannot) -> None:
    try:
        reference = session(original.SerializeToString())
        expected = run(reference, original, case.inputs)
    except Exception as err:
        cannot[short(err).split(" (node")[0][:90]] += 1
        counts["ORT cannot run the original"] += 1
        if _failure(saved, case.inputs) == short(err):
            counts["saved copy fails the same way"] += 1
        return
    counts["ORT runs the original"] += 1
    try:
        actual = run(session(saved.SerializeToString()), saved, case.inputs)
    except Exception as err:
        problems.append(f"{case.name}: ORT runs the original but not the saved model: {short(err)}")
        return
    counts["ran"] += 1
    if same_bits(expected, actual):
        counts["bit-identical"] += 1
    elif not same_bits(expected, run(reference, original, case.inputs)):
        counts["original itself nondeterministic"] += 1
    else:
        problems.append(f"{case.name}: outputs differ after the round trip")


def _failure(proto: onnx.ModelProto, inputs) -> str | None:
    try:
        run(session(proto.SerializeToString()), proto, inputs)
    except Exception as err:
        return short(err)
    return None


@pytest.mark.slow
def test_backend_corpus_round_trips_losslessly(tmp_path, capsys):
    counts: Counter = Counter()
    cannot: Counter = Counter()
    problems: list[str] = []
    total = 0
    for case in corpus():
        total += 1
        _round_trip(case, tmp_path, counts, problems, cannot)
    with capsys.disabled():
        print(f"\ncorpus: {total} models; " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
        print("ORT cannot run these originals at all:")
        for reason, count in cannot.most_common():
            print(f"  {count:4d}  {reason}")
    assert not problems, f"{len(problems)} losses, first: {problems[:5]}"
    assert total > 2000  # 149 files + 1,884 node cases with onnx 1.23
    assert counts["loaded"] == counts["saved"] == counts["structure kept"] == total
    assert counts["checker-ok"] + counts["checker rejects the original too"] == total
    assert counts["ran"] == counts["ORT runs the original"]
    assert counts["saved copy fails the same way"] == counts["ORT cannot run the original"]
    assert counts["bit-identical"] + counts["original itself nondeterministic"] == counts["ran"]
    assert counts["ran"] > 1500  # guards against a harness that silently stops running ORT


# The harness must be able to fail: each check below catches a loss a broken saver could cause.


def _tiny() -> onnx.ModelProto:
    return onnx.parser.parse_model(
        """<ir_version: 10, opset_import: ["" : 17]>
        g (float[2] x) => (float[2] y) { y = Relu(x) }"""
    )


def test_structure_check_sees_a_lost_doc_string_and_metadata():
    original = _tiny()
    original.graph.node[0].doc_string = "why this Relu"
    saved = _tiny()
    assert structure_lost(original, saved) == "field 'graph' differs"
    original = _tiny()
    onnx.helper.set_model_props(original, {"author": "me"})
    assert structure_lost(original, _tiny()) == "field 'metadata_props' differs"
    assert structure_lost(_tiny(), _tiny()) is None


def test_bit_comparison_sees_nan_payload_and_signed_zero():
    import numpy as np

    quiet = np.array([np.nan], dtype=np.float32)
    other = np.array([0x7FC00001], dtype=np.uint32).view(np.float32)
    assert not same_bits([quiet], [other])
    assert not same_bits([np.float32([0.0])], [np.float32([-0.0])])
    assert same_bits([quiet], [quiet.copy()])
