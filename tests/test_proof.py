"""graphkit.proof.Proof as the pass manager's instrument: the hooks, in order; rollback to the
model as it was; the optimistic proof and the pass-by-pass one; one tolerance merge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir
import pytest
from conftest import model_from_text, ops, run_ort
from test_passmanager import ADD_RELU, Crashes, ReluToSigmoid

from graphkit.passes import build_pipeline
from graphkit.passmanager import PassInstrument, PassManager, Validation
from graphkit.proof import Proof, feeds_for, merge_tolerances


@dataclass
class Recorder(PassInstrument):
    """Writes down every hook call; sends the manager back once if `restart` says so."""

    calls: list[str]
    restart: bool = False

    def before_run(self, model, passes, report):
        self.calls.append("before_run")

    def before_pass(self, pass_, model):
        self.calls.append(f"before {pass_.name}")

    def after_pass(self, pass_, model, result, record, report):
        self.calls.append(f"after {pass_.name}")
        return model

    def after_pass_failed(self, pass_, model, error, report):
        self.calls.append(f"failed {pass_.name}")
        return None

    def after_run(self, model, report, error):
        self.calls.append("after_run" + (" (error)" if error else ""))
        if self.restart:
            self.restart = False
            return model_from_text(ADD_RELU)
        return None


def test_the_hooks_are_called_in_order():
    calls: list[str] = []
    passes = build_pipeline("lift-constants,remove-dead-nodes")
    _, report = PassManager(passes, instruments=[Recorder(calls)]).run(model_from_text(ADD_RELU))
    assert calls == ["before_run", "before lift-constants", "after lift-constants",
                     "before remove-dead-nodes", "after remove-dead-nodes", "after_run"]
    assert [p.name for p in report.passes] == ["lift-constants", "remove-dead-nodes"]
    assert not report.validation  # no proof among the instruments: nothing validated


def test_an_instrument_can_send_the_manager_back_to_run_the_passes_again():
    calls: list[str] = []
    passes = build_pipeline("lift-constants")
    fixed, report = PassManager(passes, instruments=[Recorder(calls, restart=True)]).run(
        model_from_text(ADD_RELU))
    assert calls == ["before_run", "before lift-constants", "after lift-constants", "after_run",
                     "before lift-constants", "after lift-constants", "after_run"]
    assert len(report.passes) == 1  # the report is the run that stood
    assert "Constant" not in ops(fixed)


def test_a_pass_error_no_instrument_takes_back_stands():
    calls: list[str] = []
    with pytest.raises(RuntimeError, match="bug in a pass"):
        PassManager([Crashes()], instruments=[Recorder(calls)]).run(model_from_text(ADD_RELU))
    assert calls == ["before_run", "before crashes", "failed crashes", "after_run (error)"]


def test_the_proof_and_another_instrument_together():
    # The proof rolls the wrong pass back; the recorder still sees every pass, twice: the
    # optimistic run, then the one pass by pass from the checkpoint.
    calls: list[str] = []
    proof = Proof(validation=Validation())
    fixed, report = PassManager([ReluToSigmoid()], instruments=[proof, Recorder(calls)]).run(
        model_from_text(ADD_RELU))
    assert calls.count("before relu-to-sigmoid") == 2 and calls.count("after_run") == 2
    assert report.passes[0].rolled_back and report.validated
    assert "Sigmoid" not in ops(fixed)


def test_rollback_gives_back_the_model_as_it_was(rng):
    original = model_from_text(ADD_RELU)
    passes = build_pipeline("lift-constants") + [ReluToSigmoid()]
    fixed, report = PassManager(passes).run(model_from_text(ADD_RELU))
    assert [p.rolled_back for p in report.passes] == [False, True]
    lifted, _ = PassManager(build_pipeline("lift-constants")).run(original)
    assert ir.to_proto(fixed).graph == ir.to_proto(lifted).graph  # node for node, as kept
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(run_ort(fixed, {"x": x})[0], np.maximum(x + 1, 0))


def test_a_crash_in_the_careful_run_is_undone_from_the_snapshot():
    model = model_from_text(ADD_RELU)
    fixed, report = PassManager([ReluToSigmoid(), Crashes()]).run(model)
    assert ops(fixed) == ["Constant", "Add", "Relu"]
    codes = [f.code for f in report.findings]
    assert codes.count("GK501") == 2 and report.validated


def test_one_proof_reused_across_runs_runs_the_reference_once(rng):
    # fix's pattern: one Proof, a manager per round; the original runs once, on the worker.
    x = rng.standard_normal((3, 4)).astype(np.float32)
    model = model_from_text(ADD_RELU)
    proof = Proof.start(model, inputs={"x": x})
    reference = proof.reference
    for pipeline in ("lift-constants", "eliminate-identity,remove-dead-nodes"):
        model, report = PassManager(build_pipeline(pipeline), instruments=[proof]).run(model)
        assert report.validated and proof.last_check == report.validation
    assert proof.reference is reference and proof.feeds["x"] is x


def test_tolerances_merge_to_the_loosest_of_each():
    assert merge_tolerances(None, None) is None
    assert merge_tolerances((1e-2, 1e-5), None, (1e-4, 1e-3)) == (1e-2, 1e-3)
    assert merge_tolerances((1e-3, 1e-4)) == (1e-3, 1e-4)


def test_feeds_follow_the_dtypes_the_rewritten_model_declares():
    model = model_from_text(ADD_RELU.replace("float[N, 4] x", "double[N, 4] x"))
    feeds = {"x": np.ones((1, 4), np.float32), "extra": [np.zeros(2)]}
    adapted = feeds_for(model, feeds)
    assert adapted["x"].dtype == np.float64 and adapted["extra"] is feeds["extra"]


IDENTITY_CHAIN = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 4] x) => (float[2, 4] y) {
    a = Identity(x)
    b = Relu(a)
    y = Identity(b)
}
"""


def test_fix_reports_the_proof_as_a_part_of_its_time(rng):
    import graphkit

    model = model_from_text(IDENTITY_CHAIN)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    fixed, report = graphkit.fix(model, "ort", inputs={"x": x})
    np.testing.assert_array_equal(run_ort(fixed, {"x": x})[0], run_ort(model, {"x": x})[0])
    assert ops(fixed) == ["Relu"] and report.validated
    # The proof ran (the original and the rewritten model), inside fix's time.
    assert 0 < report.proof_seconds <= report.seconds
    assert report.to_json()["timing"] == {"fix_seconds": round(report.seconds, 4),
                                          "proof_seconds": round(report.proof_seconds, 4)}


def test_without_the_proof_its_share_is_nothing(rng):
    import graphkit

    _, report = graphkit.fix(model_from_text(IDENTITY_CHAIN), "ort", validate=False)
    assert report.proof_seconds == 0 and report.seconds > 0
