"""The proof behind every rewrite, as one object: the original model's outputs on fixed inputs
(the reference run), the checkpoint each run of passes starts from, the check of a rewritten
model (with the post models a cut split off), rollback, and the tolerances.

A Proof is a pass instrument (MLIR's PassInstrumentation is the idea): the PassManager calls
its hooks around the passes, and the Proof decides what is kept.

    before_run      the reference (started here, or given), and the checkpoint
    before_pass     a snapshot to roll back to, when it proves pass by pass
    after_pass      prove the rewrite; a bad one is undone (GK501/GK503)
    after_pass_failed   undo a pass that raised
    after_run       prove the whole list at once; if that fails, send the manager back to the
                    checkpoint to run the passes again, proven one by one

fix keeps one Proof for all its rounds: the original runs once, on a worker thread, and each
round's manager proves against it. `seconds` is what the proof cost the caller's thread
(copies, checks, waiting for the reference), the number fix's report gives.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit._chain import feeds_for, run_captured, run_chain
from graphkit._progress import step
from graphkit._reference import Reference, ReferenceOutputs
from graphkit._time_limit import DEFAULT_TIMEOUT
from graphkit.errors import first_line
from graphkit.findings import Finding, Severity
from graphkit.ir._load import copy_model
from graphkit.report import PassRecord, Report
from graphkit.runner import Feeds, LightModel, ModelRunner
from graphkit.validation import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    OutputDiff,
    choose_input_shapes,
    compare_outputs,
    make_inputs,
)

Tolerance = tuple[float, float]  # (rtol, atol)


def _clocked(method: Callable) -> Callable:
    """Add the method's time to the Proof's `seconds`, counted once when methods nest."""

    @functools.wraps(method)
    def clocked(self: Proof, *args: Any, **kwargs: Any) -> Any:
        if self._clock_depth or not self.validation.enabled:
            return method(self, *args, **kwargs)
        self._clock_depth, start = 1, time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._clock_depth = 0
            self.seconds += time.perf_counter() - start

    return clocked


def merge_tolerances(*tolerances: Tolerance | None) -> Tolerance | None:
    """The loosest of the (rtol, atol) pairs given, each part on its own; None if none is."""
    given = [t for t in tolerances if t is not None]
    if not given:
        return None
    return (max(t[0] for t in given), max(t[1] for t in given))


@dataclass(frozen=True)
class Validation:
    """How a PassManager proves rewrites on its own: inputs (given or generated), tolerances."""

    enabled: bool = True
    inputs: Feeds | None = None
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    seed: int = 0
    timeout: float | None = DEFAULT_TIMEOUT  # seconds one run of the model may take


@dataclass
class Verdict:
    """One check of a rewritten model: per-output diffs, or why it could not be compared."""

    diffs: list[OutputDiff]
    error: str | None = None  # "checker", or why the model failed to run
    light: LightModel | None = None  # the model checked, as captured for the run

    @property
    def ok(self) -> bool:
        return self.error is None and all(diff.ok for diff in self.diffs)


@dataclass
class _Run:
    """What the proof knows during one PassManager run."""

    reference: Reference
    start: LightModel  # the checkpoint: the model as the manager got it
    enabled: bool = True  # False once a swap left outputs this machine cannot run
    careful: bool = False  # proving pass by pass, after the proof of the whole list failed
    post_models: list[ir.Model] = field(default_factory=list)  # kept in this run
    tolerance: Tolerance | None = None  # loosest kept in this run
    snapshot: ir.Model | None = None  # the model before the pass running now (careful)
    proven: tuple[ir.Model, Verdict] | None = None  # the last model checked, and its verdict
    start_checker_ok: bool | None = None  # whether the checkpoint passes the ONNX checker


class Proof:
    """The numerical proof of the rewrites of one job (a fix, or one PassManager run)."""

    def __init__(self, reference: Reference | None = None, *,
                 validation: Validation | None = None) -> None:
        """`reference`: the original's run, started by the caller (fix); without it each run
        computes its own from the model the manager gets, as `validation` says."""
        self.validation = validation or Validation()
        self.reference = reference
        self.runnable = True  # False once a rewrite replaced the outputs with unrunnable ones
        self.unrunnable: str = ""  # why, when not runnable
        self.rebased = False  # a rewrite's outputs replaced the original's as the reference
        self.post_models: list[ir.Model] = []  # kept over every run: main, then these
        # The last run's proof against `reference`, and the model it ran as captured for it.
        self.last_check: list[OutputDiff] = []
        self.last_capture: LightModel | None = None
        self._start: LightModel | None = None
        self._run: _Run | None = None
        self.seconds = 0.0  # the caller's time spent proving (see the module docstring)
        self._clock_depth = 0

    @classmethod
    def start(cls, model: ir.Model, *, inputs: Feeds | None = None,
              pinned: Mapping[str, tuple[Any, ...]] | None = None,
              domains: Mapping[str, np.dtype] | None = None,
              timeout: float | None = DEFAULT_TIMEOUT) -> Proof:
        """Start running `model` on the worker: the reference every later run proves against."""
        began = time.perf_counter()
        reference = Reference.of(model, inputs=inputs, pinned=pinned, domains=domains,
                                 timeout=timeout)
        proof = cls(reference, validation=Validation(timeout=timeout))
        proof.seconds = time.perf_counter() - began
        return proof

    def start_from(self, capture: LightModel | None) -> None:
        """The next run's checkpoint is `capture`, a copy of the model it gets taken already
        (fix's first round starts from the copy the reference runs): not captured again."""
        self._start = capture

    @property
    def active(self) -> bool:
        """There is a reference to prove against, and this machine can run it."""
        return self.reference is not None and self.runnable

    @property
    def feeds(self) -> Feeds | None:
        return None if self.reference is None else self.reference.result().feeds

    @property
    def runtime(self) -> str:
        return "" if self.reference is None else self.reference.result().runtime

    # --- the hooks the PassManager calls ---------------------------------------------------

    @_clocked
    def before_run(self, model: ir.Model, passes: Sequence[Any], report: Report) -> None:
        self._run, self.last_check, self.last_capture = None, [], None
        start, self._start = self._start, None
        if not self.validation.enabled or not self.runnable:
            return
        if self.reference is not None and not self.post_models:
            self._run = _Run(self.reference, start or LightModel.of(model))
            return
        self._run = self._own_reference(model, passes, report)

    @_clocked
    def before_pass(self, pass_: Any, model: ir.Model) -> None:
        run = self._run
        if run is not None and run.careful:
            run.snapshot = copy_model(model) if pass_.kind == "rewrite" else None

    @_clocked
    def after_pass(self, pass_: Any, model: ir.Model, result: Any, record: PassRecord,
                   report: Report) -> ir.Model:
        run = self._run
        if run is None or not run.careful or run.snapshot is None or not result.modified:
            return model
        run.proven = None
        if result.outputs_replaced and not result.post_models:
            report.findings.extend(self._rebase(model, pass_.name))
            return model
        verdict = self.check(model, result.post_models, result.tolerance)
        if verdict.ok:
            run.post_models.extend(result.post_models)
            run.tolerance = merge_tolerances(run.tolerance, result.tolerance)
            run.proven = (model, verdict)
            return model
        record.rolled_back = True
        record.nodes_after = record.nodes_before
        report.findings.append(_rollback_finding(verdict, pass_.name))
        return run.snapshot

    @_clocked
    def after_pass_failed(self, pass_: Any, model: ir.Model, error: Exception,
                          report: Report) -> ir.Model | None:
        run = self._run
        if run is None or not run.careful:
            return None  # the error stands (optimistic: after_run goes back to the checkpoint)
        report.findings.append(Finding(
            "GK501", Severity.ERROR,
            f"pass '{pass_.name}' failed ({type(error).__name__}: {first_line(error)}); "
            "its changes were rolled back"))
        run.proven = None
        return run.snapshot if run.snapshot is not None else model

    @_clocked
    def after_run(self, model: ir.Model, report: Report,
                  error: Exception | None) -> ir.Model | None:
        """None: the run stands, proven; else the checkpoint to run the passes again from."""
        run = self._run
        if run is None:
            self.post_models.extend(report.post_models)
            return None
        step("running the original model for the proof")
        report.runtime = run.reference.result().runtime  # raises if the original cannot run
        if not run.careful:
            verdict = None
            if error is None and not report.replaced_outputs:
                step("proving the rewrites on ONNX Runtime")
                verdict = self.check(model, report.post_models, report.tolerance)
            if verdict is None or not verdict.ok:
                run.careful = True
                return run.start.restore()
        elif run.enabled:
            step("proving the rewrites on ONNX Runtime")
            verdict = run.proven[1] if run.proven and run.proven[0] is model else self.check(model)
        else:
            verdict = None
        if verdict is not None:
            report.validation, report.capture = verdict.diffs, verdict.light
        self.post_models.extend(report.post_models)
        if run.reference is self.reference:
            self.last_check, self.last_capture = report.validation, report.capture
        self._run = None
        return None

    # --- checks --------------------------------------------------------------------------

    @_clocked
    def check(self, model: ir.Model, post_models: Sequence[ir.Model] = (),
              tolerance: Tolerance | None = None) -> Verdict:
        """`model` (then the run's post models and `post_models`) against this run's reference."""
        run = self._run
        if run is None or not run.enabled:
            return Verdict([])
        light = LightModel.of(model, reuse=run.start)
        data = light.proto.SerializeToString()  # once, for the checker and the session
        if not _checker_passes(data) and self._start_passed_checker(run):
            return Verdict([], error="checker")
        reference = run.reference.result()
        try:
            actual, _ = run_captured(light, model, [*run.post_models, *post_models],
                                     reference.feeds, prefer=_prefer(reference),
                                     serialized=data, timeout=self.validation.timeout)
        except Exception as err:
            return Verdict([], error=first_line(err))
        rtol, atol = self._tolerance(run.tolerance, tolerance)
        return Verdict(compare_outputs(reference.outputs, actual, rtol=rtol, atol=atol),
                       light=light)

    @_clocked
    def compare(self, model: ir.Model, tolerance: Tolerance | None = None) -> list[OutputDiff]:
        """`model` and the post models kept so far against the reference (fix's last word)."""
        reference = self.reference.result() if self.active else None
        if reference is None:
            return []
        rtol, atol = self._tolerance(tolerance)
        actual = run_chain(model, self.post_models, reference.feeds, self.validation.timeout)
        return compare_outputs(reference.outputs, actual, rtol=rtol, atol=atol)

    def _tolerance(self, *declared: Tolerance | None) -> Tolerance:
        base = (self.validation.rtol, self.validation.atol)
        merged = merge_tolerances(*declared, base)
        return merged if merged is not None else base

    @staticmethod
    def _start_passed_checker(run: _Run) -> bool:
        """A rewrite is held to the checker only if the model it started from passed it."""
        if run.start_checker_ok is None:
            run.start_checker_ok = _checker_passes(run.start.proto)
        return run.start_checker_ok

    @_clocked
    def _own_reference(self, model: ir.Model, passes: Sequence[Any],
                       report: Report) -> _Run | None:
        """This run's reference: the model as the manager got it, on the inputs given (or the
        fix's, after a cut: the main model's outputs are what later rewrites must keep), else
        on generated inputs of shapes it runs with."""
        start = LightModel.of(model)
        validation = self.validation
        try:
            runner = ModelRunner(start, timeout=validation.timeout)
            if self.reference is not None or validation.inputs is not None:
                feeds = dict(self.feeds if self.reference is not None else validation.inputs)
            else:
                choice = choose_input_shapes(model, runner, validation.seed)
                report.findings.extend(choice.findings)
                report.input_shapes = choice.shapes
                domains = {name: dtype for pass_ in passes
                           for name, dtype in pass_.input_domains(model).items()}
                feeds = make_inputs(model, choice.shapes, validation.seed, domains)
            expected = runner.run(feeds)
        except Exception as err:
            report.findings.append(Finding(
                "GK504", Severity.WARNING,
                f"the original model could not be run, so rewrites are not proven: "
                f"{first_line(err)}"))
            return None
        return _Run(Reference.known(feeds, expected, runner.runtime), start)

    @_clocked
    def _rebase(self, model: ir.Model, pass_name: str) -> list[Finding]:
        """After a rewrite that replaced the outputs by design: its outputs (with the post
        models kept so far) become the reference, for this run and the later ones."""
        run = self._run
        assert run is not None
        reference = run.reference.result()
        light = LightModel.of(model)
        try:
            outputs, runtime = run_captured(light, model, self.post_models, reference.feeds,
                                            prefer=_prefer(reference),
                                            timeout=self.validation.timeout)
        except Exception as err:
            run.enabled = self.runnable = False
            self.unrunnable = first_line(err, 200)
            return [Finding(
                "GK504", Severity.WARNING,
                f"pass '{pass_name}' replaced the model's outputs with ones this machine "
                f"cannot run ({first_line(err)}); later rewrites are not proven")]
        replaced = Reference.known(reference.feeds, outputs, runtime)
        if run.reference is self.reference:
            self.reference, self.rebased = replaced, True
        run.reference = replaced
        run.post_models.clear()
        diffs = compare_outputs(outputs, outputs)  # the model is its own reference now
        run.proven = (model, Verdict(diffs, light=light))
        return [Finding(
            "GK504", Severity.INFO,
            f"pass '{pass_name}' replaced the model's outputs by design; they are the "
            "reference from here on")]


def _prefer(reference: ReferenceOutputs) -> str:
    return "ort" if reference.runtime == "onnxruntime" else "reference"


def _rollback_finding(verdict: Verdict, name: str) -> Finding:
    if verdict.error == "checker":
        return Finding("GK503", Severity.ERROR,
                       f"pass '{name}' produced a model the ONNX checker rejects; rolled back")
    if verdict.error:
        return Finding("GK501", Severity.ERROR, f"pass '{name}' produced a model that fails to "
                       f"run ({verdict.error}); rolled back")
    worst = max((d for d in verdict.diffs if not d.ok), key=lambda d: d.max_abs)
    detail = worst.reason or f"max abs error {worst.max_abs:.3g}, max rel error {worst.max_rel:.3g}"
    return Finding("GK501", Severity.ERROR,
                   f"pass '{name}' changed output '{worst.name}' ({detail}); rolled back")


def _checker_passes(proto: onnx.ModelProto | bytes) -> bool:
    try:
        onnx.checker.check_model(proto)
    except Exception:
        return False
    return True


__all__ = [
    "Proof",
    "Reference",
    "ReferenceOutputs",
    "Tolerance",
    "Validation",
    "Verdict",
    "feeds_for",
    "merge_tolerances",
    "run_chain",
]
