"""The numerical proof behind every rewrite: the original model's outputs on fixed inputs,
and the check that a rewritten model (with any post-processing models) still gives them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx_ir as ir

from graphkit._time_limit import DEFAULT_TIMEOUT
from graphkit.errors import first_line
from graphkit.findings import Finding, Severity
from graphkit.report import Report
from graphkit.runner import LightModel
from graphkit.validation import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    Feeds,
    ModelRunner,
    Reference,
    ReferenceOutputs,
    choose_input_shapes,
    compare_outputs,
    make_inputs,
)


@dataclass(frozen=True)
class Validation:
    """How rewrites are proven: inputs (given or generated) and tolerances."""

    enabled: bool = True
    inputs: Feeds | None = None
    # The original's inputs and outputs, computed or being computed by the caller (fix starts
    # it before the passes, on a worker thread); `inputs` is then not used.
    reference: Reference | None = None
    # The model the manager is given, captured already (fix's first round reuses the copy its
    # reference runs): the checkpoint, not captured a second time.
    start: LightModel | None = None
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    seed: int = 0
    timeout: float | None = DEFAULT_TIMEOUT  # seconds one run of the model may take


def looser(a: tuple[float, float] | None, b: tuple[float, float] | None):
    if a is None or b is None:
        return a or b
    return (max(a[0], b[0]), max(a[1], b[1]))


@dataclass
class _Check:
    diffs: list
    error: str | None = None
    light: LightModel | None = None  # the model checked, as captured for the run

    @property
    def ok(self) -> bool:
        return self.error is None and all(diff.ok for diff in self.diffs)


@dataclass
class Oracle:
    """The original model's outputs on fixed inputs, and how to check a rewritten model."""

    reference: Reference
    start: LightModel  # the model as the manager got it: checkpoint and checker baseline
    rtol: float
    atol: float
    post_models: list[ir.Model] = field(default_factory=list)
    enabled: bool = True
    # Loosened once a rewrite that changes numerics by design is kept (float16).
    tolerance: tuple[float, float] | None = None
    _start_checker_ok: bool | None = None
    timeout: float | None = DEFAULT_TIMEOUT  # seconds one run may take (Validation.timeout)

    @classmethod
    def build(cls, model: ir.Model, validation: Validation, report: Report,
              domains: Mapping[str, np.dtype] | None = None) -> Oracle | None:
        """`domains`: inputs the passes narrow by design (Pass.input_domains)."""
        if not validation.enabled:
            return None
        start = validation.start or LightModel.of(model)
        if validation.reference is not None:  # fix's: computed (or computing) already
            return cls(validation.reference, start, validation.rtol, validation.atol,
                       timeout=validation.timeout)
        try:
            runner = ModelRunner(start, timeout=validation.timeout)
            if validation.inputs is not None:
                feeds = dict(validation.inputs)
            else:
                choice = choose_input_shapes(model, runner, validation.seed)
                report.findings.extend(choice.findings)
                report.input_shapes = choice.shapes
                feeds = make_inputs(model, choice.shapes, validation.seed, domains)
            expected = runner.run(feeds)
        except Exception as err:
            report.findings.append(
                Finding(
                    "GK504",
                    Severity.WARNING,
                    "the original model could not be run, so rewrites are not proven: "
                    f"{first_line(err)}",
                )
            )
            return None
        reference = Reference.known(feeds, expected, runner.runtime)
        return cls(reference, start, validation.rtol, validation.atol, timeout=validation.timeout)

    def wait(self) -> ReferenceOutputs:
        """The reference outputs; raises what computing them raised."""
        return self.reference.result()

    @property
    def feeds(self) -> Feeds:
        return self.wait().feeds

    @property
    def prefer(self) -> str:
        return "ort" if self.wait().runtime == "onnxruntime" else "reference"

    def check(
        self,
        model: ir.Model,
        post_models: Sequence[ir.Model] = (),
        tolerance: tuple[float, float] | None = None,
    ) -> _Check:
        if not self.enabled:
            return _Check([])
        light = LightModel.of(model, reuse=self.start)
        data = light.proto.SerializeToString()  # once, for the checker and the session
        if not _checker_passes(data) and self._start_passed_checker():
            return _Check([], error="checker")
        reference = self.wait()
        try:
            runner = ModelRunner(light, prefer=self.prefer, serialized=data, timeout=self.timeout)
            actual = runner.run(_feeds_for(light.proto, reference.feeds))
            for post in [*self.post_models, *post_models]:  # the chain: post reads main's outputs
                runner = ModelRunner(post, prefer=self.prefer, timeout=self.timeout)
                names = [value.name for value in post.graph.inputs]
                actual.update(runner.run({n: actual.get(n, reference.feeds.get(n)) for n in names}))
        except Exception as err:
            return _Check([], error=first_line(err))
        rtol, atol = looser(looser(self.tolerance, tolerance), (self.rtol, self.atol))
        return _Check(compare_outputs(reference.outputs, actual, rtol=rtol, atol=atol), light=light)

    def _start_passed_checker(self) -> bool:
        """A rewrite is held to the checker only if the model it started from passed it."""
        if self._start_checker_ok is None:
            self._start_checker_ok = _checker_passes(self.start.proto)
        return self._start_checker_ok

    def rebase(self, model: ir.Model, pass_name: str) -> list[Finding]:
        """After a rewrite that replaced the outputs by design: its outputs become the reference."""
        feeds, prefer = self.feeds, self.prefer
        try:
            runner = ModelRunner(LightModel.of(model), prefer=prefer, timeout=self.timeout)
            self.reference = Reference.known(feeds, runner.run(feeds), runner.runtime)
        except Exception as err:
            self.enabled = False
            return [
                Finding(
                    "GK504",
                    Severity.WARNING,
                    f"pass '{pass_name}' replaced the model's outputs "
                    f"with ones this machine cannot run ({first_line(err)}); "
                    "later rewrites are not proven",
                )
            ]
        self.post_models.clear()
        return [
            Finding(
                "GK504",
                Severity.INFO,
                f"pass '{pass_name}' replaced the model's outputs by "
                "design; they are the reference from here on",
            )
        ]


def _feeds_for(proto: onnx.ModelProto, feeds: Feeds) -> Feeds:
    """The same inputs, cast to the dtypes the rewritten model declares (a rewrite may narrow
    an input from int64 to int32 or widen a uint8 image to float, by design)."""
    adapted = dict(feeds)
    for value in proto.graph.input:
        elem = value.type.tensor_type.elem_type
        if value.name not in feeds or not elem:
            continue
        declared = onnx.helper.tensor_dtype_to_np_dtype(elem)
        if adapted[value.name].dtype != declared:
            adapted[value.name] = adapted[value.name].astype(declared)
    return adapted


def check_rewrite(
    model: ir.Model,
    oracle: Oracle | None,
    post_models: Sequence[ir.Model] = (),
    tolerance: tuple[float, float] | None = None,
) -> Callable[[str], Finding] | None:
    """None when the rewrite is proven (or cannot be); else a maker for the rollback finding."""
    if oracle is None:
        return None
    outcome = oracle.check(model, post_models, tolerance)
    if outcome.ok:
        return None
    if outcome.error == "checker":
        return lambda name: Finding(
            "GK503",
            Severity.ERROR,
            f"pass '{name}' produced a model the ONNX checker rejects; rolled back",
        )
    if outcome.error:
        return lambda name: Finding(
            "GK501",
            Severity.ERROR,
            f"pass '{name}' produced a model that fails to run ({outcome.error}); rolled back",
        )
    worst = max((d for d in outcome.diffs if not d.ok), key=lambda d: d.max_abs)
    detail = worst.reason or f"max abs error {worst.max_abs:.3g}, max rel error {worst.max_rel:.3g}"
    return lambda name: Finding(
        "GK501",
        Severity.ERROR,
        f"pass '{name}' changed output '{worst.name}' ({detail}); rolled back",
    )


def _checker_passes(proto: onnx.ModelProto | bytes) -> bool:
    try:
        onnx.checker.check_model(proto)
    except Exception:
        return False
    return True
