"""graphkit.fix: diagnose, apply the passes that resolve the findings, prove it, repeat.

    model, report = graphkit.fix("model.onnx", "tensorrt", pin=("batch=1",))

Each round diagnoses the model for the target, chooses passes from the findings (the
finding's `fix`, else the passes that declare its code in `fixes`), runs them through
the PassManager (which proves every rewrite and rolls back a bad one), and diagnoses
again. It stops when nothing blocks, or when a round resolves nothing more. The first
round also runs the target's cleanup and fusion pipeline (graphkit.pipelines) unless
legalize_only. The final model is validated against the ORIGINAL model's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.findings import Finding
from graphkit.frontends import load
from graphkit.ir import copy_model
from graphkit.passes import pass_registry
from graphkit.passmanager import Pass, PassContext, PassManager, Validation, instantiate, parse_pipeline
from graphkit.pipelines import pipeline_for
from graphkit.report import Report
from graphkit.validation import (
    Feeds,
    ModelRunner,
    choose_input_shapes,
    compare_outputs,
    make_inputs,
)


@dataclass
class FixReport(Report):
    """What fix did: every pass run, the blockers left and why, validation vs the original."""

    rounds: int = 0
    blockers_before: int = 0
    unresolved: list[tuple[Finding, str]] = field(default_factory=list)

    @property
    def fixed(self) -> bool:
        return not self.unresolved

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["rounds"] = self.rounds
        data["blockers_before"] = self.blockers_before
        data["unresolved"] = [{**f.to_json(), "why": why} for f, why in self.unresolved]
        return data


@dataclass(frozen=True)
class FixOptions:
    pin: tuple[str, ...] = ()
    nms: str | None = None
    legalize_only: bool = False
    validate: bool = True
    max_rounds: int = 4


def fix(model: Any, target: Any = "ort", *, pin: Sequence[str] = (), nms: str | None = None,
        legalize_only: bool = False, inputs: Mapping[str, Any] | None = None,
        validate: bool = True, max_rounds: int = 4) -> tuple[ir.Model, FixReport]:
    """Rewrite `model` until `target` accepts it (or nothing more can be fixed)."""
    from graphkit.diagnose import diagnose
    from graphkit.targets import get_target

    options = FixOptions(tuple(pin), nms, legalize_only, validate, max_rounds)
    target_obj = get_target(target)  # an unknown name fails before any work
    original = load(model)
    current = copy_model(original)
    feeds, expected = _reference(original, options, inputs)
    report = FixReport(model=original.graph.name or "model", target=target_obj.name)
    validation = Validation(enabled=feeds is not None, inputs=feeds)
    diagnosis = diagnose(current, target_obj)
    report.blockers_before = len(diagnosis.blockers)
    tried: set[str] = set()
    for round_ in range(options.max_rounds):
        passes = _choose(diagnosis.findings, target_obj, current, options, tried)
        if round_ == 0 and options.pin and "pin-shapes" not in tried:
            tried.add("pin-shapes")  # asked for by the user, whatever the target says
            passes.insert(0, _build("pin-shapes", pass_registry(), target_obj, current, options))
        if round_ == 0 and not options.legalize_only:
            passes += _pipeline(target_obj.name, current)
        if not passes:
            break
        report.rounds += 1
        current, run = PassManager(passes, validation=validation).run(
            current, PassContext(target=target_obj.name))
        report.passes.extend(run.passes)
        report.findings.extend(f for f in run.findings if f.code.startswith("GK5"))
        before = _keys(diagnosis.blockers)
        diagnosis = diagnose(current, target_obj)
        if not diagnosis.blockers or _keys(diagnosis.blockers) == before and round_ > 0:
            break
    report.findings = list(diagnosis.findings) + report.findings
    report.unresolved = [(f, _why(f, tried)) for f in diagnosis.blockers]
    if feeds is not None and expected is not None:
        report.validation = _validate(current, feeds, expected, validation)
        report.input_shapes = {name: tuple(array.shape) for name, array in feeds.items()}
    return current, report


def _reference(original: ir.Model, options: FixOptions,
               inputs: Mapping[str, Any] | None) -> tuple[Feeds | None, Feeds | None]:
    """The inputs every check uses, and the ORIGINAL model's outputs on them."""
    if not options.validate:
        return None, None
    runner = ModelRunner(original)
    if inputs is not None:
        feeds = dict(inputs)
    elif options.pin:
        from graphkit.passes.pin_shapes import pinned_shapes

        shapes = pinned_shapes(original, options.pin)
        feeds = make_inputs(original, {**choose_input_shapes(original, runner).shapes, **shapes})
    else:
        feeds = make_inputs(original, choose_input_shapes(original, runner).shapes)
    return feeds, runner.run(feeds)


def _choose(findings: Sequence[Finding], target, model: ir.Model, options: FixOptions,
            tried: set[str]) -> list[Pass]:
    """One pass per distinct fix the findings name, with the options fix was given."""
    registry = pass_registry()
    by_code = {code: name for name, cls in registry.items() for code in cls.fixes}
    specs: list[str] = []
    for finding in findings:
        spec = finding.fix or by_code.get(finding.code)
        if spec and spec not in specs and spec not in tried:
            specs.append(spec)
    tried.update(specs)
    return [_build(spec, registry, target, model, options) for spec in specs]


def _build(spec_text: str, registry, target, model: ir.Model, options: FixOptions) -> Pass:
    [spec] = parse_pipeline(spec_text)
    if spec.name not in registry:
        raise InputError(f"finding names fix '{spec.name}', which is not a known pass")
    extra: dict[str, str] = {}
    if spec.name == "pin-shapes" and options.pin:
        extra["pin"] = "+".join(options.pin)
    if spec.name == "nms" and options.nms:
        extra["mode"] = options.nms
    if spec.name == "convert-opset" and "to" not in spec.options:
        low, high = target.opset_range()
        extra["to"] = str(min(max(model.opset_imports.get("", low), low), high))
    return instantiate(registry[spec.name], {**spec.options, **extra})


def _pipeline(target: str, model: ir.Model) -> list[Pass]:
    from graphkit.passmanager import build_pipeline

    return build_pipeline(pipeline_for(target, model.opset_imports.get("", 1)))


def _keys(findings: Sequence[Finding]) -> set[tuple[str, str | None]]:
    return {(f.code, f.node) for f in findings}


def _why(finding: Finding, tried: set[str]) -> str:
    if not finding.fix:
        return "no graphkit pass resolves this finding"
    if finding.code == "GK301" and finding.fix == "pin-shapes":
        return "the dim is dynamic: give its size with --pin NAME=SIZE"
    if finding.fix in tried:
        return f"'{finding.fix}' ran but the finding remains (or its rewrite was rolled back)"
    return f"'{finding.fix}' was not run"


def _validate(model: ir.Model, feeds: Feeds, expected: Feeds, validation: Validation):
    actual = ModelRunner(model).run(_feeds_for(model, feeds))
    return compare_outputs(expected, actual, rtol=validation.rtol, atol=validation.atol)


def _feeds_for(model: ir.Model, feeds: Feeds) -> Feeds:
    """The same data in the dtypes the fixed model declares (an input may have been adapted)."""
    out = {}
    for value in model.graph.inputs:
        if value.name in feeds and value.dtype is not None:
            out[value.name] = feeds[value.name].astype(value.dtype.numpy(), copy=False)
    return out
