"""graphkit.fix: diagnose, apply the passes that resolve the findings, prove it, repeat.

    model, report = graphkit.fix("model.onnx", "tensorrt", pin=("batch=1",))

This module is graphkit.fixing: the name graphkit.fix is the function, not a module.

Each round diagnoses the model for the target, chooses passes from the findings (the
finding's `fix`, else the passes that declare its code in `fixes`), runs them through
the PassManager (which proves every rewrite and rolls back a bad one), and diagnoses
again. It stops when nothing blocks, or when a round resolves nothing more. The first
round also runs the target's cleanup and fusion pipeline (its backend's pipeline.py, read
through graphkit.backends.pipeline_for) unless legalize_only. The final model is validated
against the ORIGINAL model's outputs.

NMS: `nms=` gives any NonMaxSuppression that form; else the target's form (graphkit.
backends.nms_form) where a GK109 finding asks for one. `cut` splits the post-processing off into
`report.post_models`; the proof runs main then post. `native` and `plugin` replace the
outputs by design, so they run last in their round, after everything before them is
proven against the original (`report.before_replacement`); from there on the reference is
the model right after the swap (`report.reference` says which).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnx_ir as ir

from graphkit._fix_passes import build_pass, choose_passes, extra_passes, target_pipeline
from graphkit._time_limit import DEFAULT_TIMEOUT, check_timeout
from graphkit.backends import get_target
from graphkit.diagnose import diagnose
from graphkit.errors import InputError
from graphkit.findings import Finding
from graphkit.frontends import load
from graphkit.ir import copy_model
from graphkit.ir._gc import collector_paused
from graphkit.passes import pass_registry
from graphkit.passes._graph_edit import dim_symbol
from graphkit.passes.pin_shapes import check_pins_fit, pinned_shapes
from graphkit.passmanager import Pass, PassContext, PassManager
from graphkit.proof import Proof, Validation, merge_tolerances
from graphkit.report import Report
from graphkit.runner import LightModel, refuse_invalid_onnx
from graphkit.validation import OutputDiff

ORIGINAL = "original"
NAMELESS_GRAPH = "graph"  # the name fix gives a graph that has none


@dataclass
class FixReport(Report):
    """What fix did: every pass run, the blockers left and why, validation vs the original."""

    rounds: int = 0
    blockers_before: int = 0
    unresolved: list[tuple[Finding, str]] = field(default_factory=list)
    # What `validation` compares with: the original, or the model right after an nms rewrite
    # that replaced the outputs by design (then `before_replacement` proves what came before).
    reference: str = ORIGINAL
    before_replacement: list[OutputDiff] = field(default_factory=list)
    last_check: list[OutputDiff] = field(default_factory=list, repr=False)  # not in the JSON
    seconds: float = 0.0  # fix's whole time, from the model given to the model returned
    proof_seconds: float = 0.0  # the part of it the proof took (graphkit.proof.Proof.seconds)

    @property
    def fixed(self) -> bool:
        return not self.unresolved

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["rounds"] = self.rounds
        data["blockers_before"] = self.blockers_before
        data["unresolved"] = [{**f.to_json(), "why": why} for f, why in self.unresolved]
        data["validation"]["reference"] = self.reference
        data["validation"]["before_replacement"] = [d.to_json() for d in self.before_replacement]
        data["timing"] = {"fix_seconds": round(self.seconds, 4),
                          "proof_seconds": round(self.proof_seconds, 4)}
        return data


@dataclass(frozen=True)
class FixOptions:
    pin: tuple[str, ...] = ()
    nms: str | None = None
    legalize_only: bool = False
    validate: bool = True
    max_rounds: int = 4
    passes: str = ""  # a pipeline the user asks for besides the fixes ("float16")
    timeout: float | None = DEFAULT_TIMEOUT  # seconds one run of the model may take


def fix(model: Any, target: Any = "ort", *, pin: Sequence[str] | str = (), nms: str | None = None,
        legalize_only: bool = False, inputs: Mapping[str, Any] | None = None,
        validate: bool = True, max_rounds: int = 4, passes: str = "",
        timeout: float | None = DEFAULT_TIMEOUT) -> tuple[ir.Model, FixReport]:
    """Rewrite `model` until `target` accepts it (or nothing more can be fixed).

    `passes`: a pipeline to run as well, after the target's, proven like the rest
    ("float16", "fuse{rules=conv-bn}"); it runs with `legalize_only` too.
    `pin`: "batch=1" or "x=1x3x224x224", or several of them; each fixes exactly the dims it
    names, and the others stay dynamic unless the target needs static shapes (then they get
    the recorded export sizes, and the pin-shapes record says so).
    `timeout`: seconds one run of the model may take (None: no limit); a run past it raises
    RunTimeout (an InputError) naming the node that did not finish."""
    options = FixOptions(_pins(pin), nms, legalize_only, validate, max_rounds, passes,
                         check_timeout(timeout))
    # The passes build and drop IR objects by the hundred thousand: without the cyclic
    # collector walking them all again and again, the 8,064-node benchmark runs 0.4-0.9 s
    # faster. Collection resumes when fix returns.
    began = time.perf_counter()
    with collector_paused():
        fixed, report = _fix(model, target, options, inputs)
    report.seconds = time.perf_counter() - began
    return fixed, report


def _fix(model: Any, target: Any, options: FixOptions,
         inputs: Mapping[str, Any] | None) -> tuple[ir.Model, FixReport]:
    target_obj = get_target(target)  # an unknown name fails before any work
    extra = extra_passes(options)  # as does an unknown pass or option in `passes`
    original = load(model)
    pinned = _pinned(original, options.pin)  # a bad pin fails before any work, proof or not
    _refuse_malformed(original)
    domains = {name: dtype for p in extra for name, dtype in p.input_domains(original).items()}
    proof = _reference(original, options, inputs, domains, pinned)  # before any rewrite touches it
    light = proof.reference.light if proof.reference is not None else None
    # The caller's own model object is never modified; one loaded here from a file is ours.
    # The reference's capture is a copy already: restoring it skips serializing the weights.
    current = original if original is not model else \
        light.restore() if light is not None else copy_model(original)
    current.graph.name = current.graph.name or NAMELESS_GRAPH  # the ONNX checker wants one
    report = FixReport(model=original.graph.name or "model", target=target_obj.name)
    diagnosis = diagnose(current, target_obj, light=light)
    report.blockers_before = len(diagnosis.blockers)
    tried: set[str] = set()
    for round_ in range(options.max_rounds):
        # The user's pins run first, exactly as given; a target that still needs static
        # shapes after them asks again next round, and gets the recorded export sizes.
        user_pins = round_ == 0 and bool(options.pin)
        if user_pins:
            tried.add("pin-shapes")
        passes = choose_passes(diagnosis.findings, target_obj, current, options, tried,
                               static_ok=not user_pins)
        if user_pins:
            pin = build_pass("pin-shapes", pass_registry(), target_obj, current, options)
            passes.insert(0, pin)
        if round_ == 0 and not options.legalize_only:
            passes += target_pipeline(target_obj.name, current)
        if round_ == 0:
            passes += extra
        if not passes:
            break
        report.rounds += 1
        swaps = [p for p in passes if p.replaces_outputs]
        rest = [p for p in passes if p not in swaps]
        # The first round starts from the model the reference captured: reuse that capture.
        start = light if round_ == 0 else None
        current = _run(rest, current, proof, target_obj.name, report, start)
        for swap in swaps:
            current = _swap_outputs(swap, current, proof, target_obj.name, report)
        before = _keys(diagnosis.blockers)
        diagnosis = diagnose(current, target_obj, light=report.capture)
        if not diagnosis.blockers or _keys(diagnosis.blockers) == before and round_ > 0:
            break
    report.findings = list(diagnosis.findings) + report.findings
    dynamic = _dynamic_input_dims(current)
    report.unresolved = [(f, _why(f, tried, dynamic)) for f in diagnosis.blockers]
    if proof.active:
        report.validation = report.last_check or proof.compare(current, report.tolerance)
    if proof.feeds is not None:
        # Sequence-typed inputs come as lists: they have no one shape to report.
        report.input_shapes = {name: tuple(array.shape) for name, array in proof.feeds.items()
                               if hasattr(array, "shape")}
    report.proof_seconds = proof.seconds
    return current, report


def _pinned(original: ir.Model, pins: tuple[str, ...]) -> dict[str, tuple[Any, ...]] | None:
    """The input shapes the user's pins give (dims they leave dynamic stay symbolic)."""
    if not pins:
        return None

    return pinned_shapes(original, pins)


def _refuse_malformed(model: ir.Model) -> None:
    """What no rewrite can make valid, found by fuzzing: fix would write it out as it is.
    (The proof's reference refuses what the ONNX checker rejects; without a proof, so does
    this.)"""
    name = model.graph.name or "the model"
    if not model.graph.outputs:  # nothing to compute: every node is dead, nothing to prove
        raise InputError(f"{name}: the graph has no outputs")


def _reference(original: ir.Model, options: FixOptions, inputs: Mapping[str, Any] | None,
               domains: Mapping[str, Any], pinned: Mapping[str, tuple[Any, ...]] | None
               ) -> Proof:
    """Start running the ORIGINAL model on the inputs every check will use."""
    if not options.validate:
        refuse_invalid_onnx(LightModel.of(original).proto)
        return Proof(validation=Validation(enabled=False))
    if inputs is not None:
        if pinned:
            check_pins_fit(pinned, {name: getattr(array, "shape", ()) for name, array
                                    in inputs.items()})
        return Proof.start(original, inputs=dict(inputs), timeout=options.timeout)
    return Proof.start(original, pinned=pinned, domains=domains, timeout=options.timeout)


def _run(passes: list[Pass], model: ir.Model, proof: Proof, target: str,
         report: FixReport, start: LightModel | None = None) -> ir.Model:
    report.capture = None  # set again below when this run's proof captures the model it returns
    if not passes:
        return model
    proof.start_from(start)
    model, run = PassManager(passes, instruments=[proof]).run(model, PassContext(target=target))
    # The manager just compared this model with the reference: fix need not run it again.
    report.last_check, report.capture = proof.last_check, proof.last_capture
    report.runtime = run.runtime or report.runtime
    report.passes.extend(run.passes)
    report.findings.extend(f for f in run.findings if f.code.startswith("GK5"))
    report.post_models.extend(run.post_models)
    report.tolerance = merge_tolerances(report.tolerance, run.tolerance)
    return model


def _swap_outputs(pass_: Pass, model: ir.Model, proof: Proof, target: str,
                  report: FixReport) -> ir.Model:
    """Prove everything so far against the original; the swap's outputs become the reference
    (the proof rebases on them as the manager runs the swap)."""
    if proof.active:
        report.before_replacement = proof.compare(model, report.tolerance)
    model = _run([pass_], model, proof, target, report)
    label = f"the model right after nms {getattr(pass_, 'mode', '')} (outputs replaced by design)"
    if proof.rebased:
        report.reference = label
    elif proof.unrunnable:  # a TensorRT plugin does not run here: nothing after it is proven
        report.reference = f"{label}; not runnable here ({proof.unrunnable})"
    return model


def _pins(pin: Sequence[str] | str) -> tuple[str, ...]:
    """fix's `pin`: one "batch=1" string, or a sequence of them (never a str's characters)."""
    if isinstance(pin, str):
        return (pin,)
    pins = tuple(pin)
    for item in pins:
        if not isinstance(item, str):
            raise TypeError(f"fix: pin takes strings like 'batch=1' or 'x=1x3x224x224', "
                            f"got {type(item).__name__} {item!r}")
    return pins


def _keys(findings: Sequence[Finding]) -> set[tuple[str, str | None]]:
    return {(f.code, f.node) for f in findings}


def _why(finding: Finding, tried: set[str], dynamic: Sequence[str] = ()) -> str:
    if not finding.fix:
        return "no graphkit pass resolves this finding"
    if finding.code == "GK301" and finding.fix == "pin-shapes" and dynamic:
        return (f"input dims still dynamic, with no recorded export size: {', '.join(dynamic)}; "
                f"give each its size with --pin {dynamic[0]}=SIZE")
    if finding.code == "GK301" and finding.fix == "pin-shapes":
        return "the dim is dynamic: give its size with --pin NAME=SIZE"
    if finding.fix in tried:
        return f"'{finding.fix}' ran but the finding remains (or its rewrite was rolled back)"
    return f"'{finding.fix}' was not run"


def _dynamic_input_dims(model: ir.Model) -> list[str]:
    """The named dims the graph inputs still leave dynamic, in order."""

    names = [dim_symbol(d) for value in model.graph.inputs for d in (value.shape or ())]
    return list(dict.fromkeys(name for name in names if name))
