"""The pass manager: runs passes, times them, and calls its instruments around each.

A pass is analysis (reads the model, returns findings) or rewrite (changes the model
in place, returns whether it did and what it changed). The default instrument is the proof
(graphkit.proof.Proof): it runs the ONNX checker on what the rewrites made and compares the
model's outputs with the original's on the same inputs; a rewrite that breaks either is
rolled back and reported (GK501/GK503). A Pipeline is a list of passes run as one pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import onnx_ir as ir

from graphkit._pipeline_text import PassSpec, instantiate, parse_pipeline
from graphkit._progress import step
from graphkit.findings import Finding
from graphkit.ir._gc import collector_paused
from graphkit.ir._initializers import allow_initializers_apart
from graphkit.ir._walk import CONTROL_FLOW as _CONTROL_FLOW
from graphkit.ir._walk import subgraphs as _subgraphs
from graphkit.proof import Proof, Validation, merge_tolerances
from graphkit.report import PassRecord, Report

PassKind = Literal["analysis", "rewrite"]


@dataclass(frozen=True)
class PassContext:
    """What a pass may know besides the model. Passed explicitly; there is no global context."""

    target: str | None = None
    seed: int = 0
    # Every value's type and shape on the IR is what shape inference gives for the graph as
    # it is now, so a pass may skip inferring them again (graphkit.passes._graph_edit.
    # ensure_shapes). The manager sets it: true after a pass that said so, until a pass
    # that does not preserve shapes runs.
    shapes_current: bool = False


@dataclass
class PassResult:
    """What a pass did. As onnx-ir's PassResult(model, modified), `modified` is the pass's own
    statement of fact: True if and only if the model differs from the one it was given. A
    pass that finds nothing to do says False and lists no change, so running it again on
    its own output is a no-op the manager need not prove."""

    modified: bool = False
    findings: list[Finding] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # one line per change, for the report
    # Models that run after this one on its outputs (nms cut): together they give the
    # original outputs.
    post_models: list[ir.Model] = field(default_factory=list)
    # The rewrite changes the model's outputs by design (nms native/plugin/cut): with
    # post_models it is proven by running the chain; without, the new outputs become the
    # reference for later passes.
    outputs_replaced: bool = False
    # (rtol, atol) this rewrite is proven with, when it changes numerics by design (float16);
    # None: the manager's tolerance. A looser value is reported in the pass's changes.
    tolerance: tuple[float, float] | None = None
    # The pass ended with shape inference on the graph as it leaves it (PassContext).
    shapes_current: bool = False


class Pass:
    """Base class. Subclasses are frozen dataclasses whose fields are the pass's options.

    A pass declares what it does, so that drivers need not know passes by name: `kind`, the
    finding codes it `fixes`, what it preserves (`preserves_shapes`), whether it replaces
    the model's outputs by design (`replaces_outputs`), and how a finding for a target
    configures it (`for_target`)."""

    name: ClassVar[str]
    kind: ClassVar[PassKind]
    fixes: ClassVar[tuple[str, ...]] = ()  # finding codes this rewrite resolves
    # The rewrite only removes nodes or points uses at values of the same type and shape, so
    # shapes inferred before it are still what inference would give after it.
    preserves_shapes: ClassVar[bool] = False
    # Rewrites If/Loop/Scan bodies and functions too (graphkit.ir._walk.every_graph); where
    # False, diagnose says a finding inside a subgraph is beyond this pass.
    reaches_subgraphs: ClassVar[bool] = False

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        raise NotImplementedError

    @classmethod
    def for_target(cls, target: Any, model: ir.Model, options: Mapping[str, str],
                   request: Request) -> Pass:
        """The pass as a driver builds it when a finding for `target` (a backends Target) asks
        for it with `options` (strings, as in a pipeline): by default, as the options say. A
        pass overrides this to fill in what the target or the user's `request` decides."""
        return instantiate(cls, options)

    @property
    def replaces_outputs(self) -> bool:
        """The rewrite replaces the model's outputs by design (nms native/plugin), so fix runs
        it last in its round, after the rest is proven against the original."""
        return False

    def input_domains(self, model: ir.Model) -> dict[str, np.dtype]:
        """Graph inputs this rewrite narrows by design to the values of another dtype (a float
        image that will arrive as uint8). The proof draws those inputs from that dtype, since
        on other values the outputs differ by design."""
        return {}


@dataclass(frozen=True)
class Request:
    """What the user asked a driver for, that shapes the passes it builds (Pass.for_target)."""

    pin: tuple[str, ...] = ()  # the user's pins, "batch=1" or "x=1x3x224x224"
    nms: str = "keep"  # the NMS form: the user's, else the target's


ProgressFn = Callable[[str, int, int], None]


class PassContractError(RuntimeError):
    """A pass broke the contract of PassResult: a graphkit (or plugin) bug, not bad input."""


class PassInstrument:
    """Hooks the PassManager calls around the passes (MLIR's PassInstrumentation): the proof
    (graphkit.proof.Proof) is one. Any object with these methods will do; this class gives
    the no-op defaults. Hooks that return a model hand the manager the model to go on with."""

    def before_run(self, model: ir.Model, passes: Sequence[Pass], report: Report) -> None:
        """Before the first pass of a run."""

    def before_pass(self, pass_: Pass, model: ir.Model) -> None:
        """Before each pass."""

    def after_pass(self, pass_: Pass, model: ir.Model, result: PassResult, record: PassRecord,
                   report: Report) -> ir.Model:
        """After each pass that returned: the model to go on with (rolled back, or as is)."""
        return model

    def after_pass_failed(self, pass_: Pass, model: ir.Model, error: Exception,
                          report: Report) -> ir.Model | None:
        """After a pass that raised: the model to go on with, or None: the error stands."""
        return None

    def after_run(self, model: ir.Model, report: Report,
                  error: Exception | None) -> ir.Model | None:
        """After the last pass (or the error that ended the run): None, the run stands; or a
        model to run all the passes again from (the proof's checkpoint)."""
        return None


class PassManager:
    """Runs passes in order, with instruments around each; by default the proof.

    The proof is optimistic: one checkpoint, all passes, one proof of the result. Only when
    that proof fails (or a pass replaces the outputs by design, or crashes) does it send the
    manager back to the checkpoint to run the passes again, proven one by one, to find and
    undo the culprit. A proof costs a serialization and an ORT session: once per list, not
    once per pass. To run a list of passes as one pass (nested, repeated until stable), see
    Pipeline.
    """

    def __init__(
        self,
        passes: Sequence[Pass],
        *,
        validation: Validation | None = None,
        progress: ProgressFn | None = None,
        instruments: Sequence[Any] | None = None,
    ) -> None:
        """`instruments`: the hooks to call (PassInstrument); None: a Proof as `validation`
        says (graphkit.proof.Validation: generated inputs unless given)."""
        self.passes = list(passes)
        self.validation = validation or Validation()
        self.progress = progress
        self.instruments = list(instruments) if instruments is not None else None

    def as_pass(self, max_steps: int = 1) -> Pipeline:
        """This manager's passes as one pass, to nest in another manager's list (repeated
        until stable, at most `max_steps` times); the outer manager's instruments prove it."""
        return Pipeline(tuple(self.passes), max_steps=max_steps)

    def run(self, model: ir.Model, ctx: PassContext | None = None) -> tuple[ir.Model, Report]:
        """Run every pass; with the proof, each rewrite ends up proven or rolled back."""
        ctx = ctx or PassContext()
        report = Report(model=model.graph.name or "model", target=ctx.target)
        instruments = self.instruments
        if instruments is None:
            instruments = [Proof(validation=self.validation)]
        with collector_paused():
            return self._run(model, ctx, report, instruments), report

    def _run(self, model: ir.Model, ctx: PassContext, report: Report,
             instruments: list[Any]) -> ir.Model:
        for instrument in instruments:
            instrument.before_run(model, self.passes, report)
        careful = False
        while True:
            attempt = Report(model=report.model, target=report.target)
            error = None
            try:
                model = self._sweep(model, ctx, attempt, instruments, track_shapes=not careful)
            except Exception as err:  # an instrument may take it back to a checkpoint
                error = err
            restart = None
            for instrument in instruments:
                restart = instrument.after_run(model, attempt, error) or restart
            if restart is None:
                if error is not None:
                    raise error
                _merge(report, attempt)
                return model
            # Back to the checkpoint, where rollbacks are likely: every pass infers afresh.
            model, ctx, careful = restart, replace(ctx, shapes_current=False), True

    def _sweep(self, model: ir.Model, ctx: PassContext, report: Report,
               instruments: list[Any], *, track_shapes: bool = True) -> ir.Model:
        nodes = None  # each pass starts with the count the one before it ended with
        for index, pass_ in enumerate(self.passes):
            step(f"pass {pass_.name}")
            if self.progress:
                self.progress(pass_.name, index, len(self.passes))
            for instrument in instruments:
                instrument.before_pass(pass_, model)
            try:
                result, record = _timed(pass_, model, ctx, nodes)
            except Exception as err:  # a pass bug must not take the user's job down with it
                model = _recover(instruments, pass_, model, err, report)
                nodes = None
                continue
            ctx = _shapes_after(pass_, result, ctx) if track_shapes else ctx
            report.passes.append(record)
            report.findings.extend(result.findings)
            for instrument in instruments:
                model = instrument.after_pass(pass_, model, result, record, report)
            nodes = record.nodes_after
            if not record.rolled_back:
                _keep(report, result)
        return model


@dataclass(frozen=True)
class Pipeline(Pass):
    """Passes run in order as one pass, repeated until stable: the pass manager's sequence as
    a pass, to nest in another list (its passes are proven together, as one rewrite).

    `max_steps`: how many times at most to run the whole sequence; it stops earlier after a
    step in which no pass changed the model. `follow_up`: the passes after the first only
    follow up on what it did (fold-shapes: fold the constants its folds made), so a step
    whose first pass changes nothing ends it there."""

    name = "pipeline"
    kind = "rewrite"
    passes: tuple[Pass, ...] = ()
    max_steps: int = 1
    follow_up: bool = False

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        return self.combine(self.steps(model, ctx), ctx)

    @property
    def replaces_outputs(self) -> bool:
        return any(pass_.replaces_outputs for pass_ in self.passes)

    def input_domains(self, model: ir.Model) -> dict[str, np.dtype]:
        return {name: dtype for pass_ in self.passes
                for name, dtype in pass_.input_domains(model).items()}

    def steps(self, model: ir.Model, ctx: PassContext) -> Iterator[tuple[Pass, PassResult]]:
        """Each pass run and what it returned, in order (the caller may tally them)."""
        for _ in range(self.max_steps):
            changed = False
            for index, pass_ in enumerate(self.passes):
                result = pass_.run(model, ctx)
                if result.changes and not result.modified:
                    raise PassContractError(f"pass '{pass_.name}' lists changes but says it "
                                            "modified nothing")
                ctx = _shapes_after(pass_, result, ctx)
                yield pass_, result
                changed |= result.modified
                if index == 0 and self.follow_up and not result.modified:
                    return
            if not changed:
                return

    @staticmethod
    def combine(steps: Iterable[tuple[Pass, PassResult]], ctx: PassContext) -> PassResult:
        """The steps' results as one PassResult: the nested passes as a single pass."""
        total = PassResult(shapes_current=ctx.shapes_current)
        for pass_, result in steps:
            total.modified |= result.modified
            total.findings.extend(result.findings)
            total.changes.extend(result.changes)
            total.post_models.extend(result.post_models)
            total.outputs_replaced |= result.outputs_replaced
            if result.modified:
                total.tolerance = merge_tolerances(total.tolerance, result.tolerance)
            total.shapes_current = _shapes_after(pass_, result, ctx).shapes_current
            ctx = replace(ctx, shapes_current=total.shapes_current)
        return total


def _recover(instruments: list[Any], pass_: Pass, model: ir.Model, error: Exception,
             report: Report) -> ir.Model:
    """The model an instrument goes on with after `pass_` raised; else the error stands."""
    for instrument in instruments:
        recovered = instrument.after_pass_failed(pass_, model, error, report)
        if recovered is not None:
            return recovered
    raise error


def _keep(report: Report, result: PassResult) -> None:
    """What a pass that stands adds to the report besides its record and findings."""
    report.post_models.extend(result.post_models)
    report.replaced_outputs |= result.outputs_replaced and not result.post_models
    if result.modified and result.tolerance is not None:
        report.tolerance = merge_tolerances(report.tolerance, result.tolerance)


def _shapes_after(pass_: Pass, result: PassResult, ctx: PassContext) -> PassContext:
    """The context for the next pass: are the shapes still current after this one?"""
    preserved = ctx.shapes_current and (pass_.kind == "analysis" or pass_.preserves_shapes)
    current = result.shapes_current or preserved
    return ctx if current == ctx.shapes_current else replace(ctx, shapes_current=current)


def _timed(pass_: Pass, model: ir.Model, ctx: PassContext,
           nodes_before: int | None = None) -> tuple[PassResult, PassRecord]:
    nodes_before = count_nodes(model) if nodes_before is None else nodes_before
    start = time.perf_counter()
    result = pass_.run(model, ctx)
    # An IR-3 model lists every initializer as a graph input: a rewrite that adds a constant
    # (most do) needs IR 4, which reads the rest of the model the same.
    allow_initializers_apart(model)
    if result.changes and not result.modified:
        raise PassContractError(f"pass '{pass_.name}' lists changes but says it modified nothing")
    record = PassRecord(
        name=pass_.name,
        kind=pass_.kind,
        seconds=time.perf_counter() - start,
        nodes_before=nodes_before,
        nodes_after=count_nodes(model),
        changes=list(result.changes),
        modified=result.modified,
    )
    return result, record


def _merge(report: Report, part: Report) -> None:
    report.passes.extend(part.passes)
    report.findings.extend(part.findings)
    report.post_models.extend(part.post_models)
    report.tolerance = merge_tolerances(report.tolerance, part.tolerance)
    report.replaced_outputs |= part.replaced_outputs
    report.validation, report.capture = part.validation, part.capture
    report.runtime = part.runtime or report.runtime


def count_nodes(model: ir.Model) -> int:
    """Nodes in the model, subgraph bodies included (a plain walk: the report asks often)."""
    return _count_graph(model.graph)


def _count_graph(graph: ir.Graph) -> int:
    total = 0
    for node in graph:
        total += 1
        if node.op_type in _CONTROL_FLOW or node.domain not in ("", "ai.onnx"):
            total += sum(_count_graph(g) for g in _subgraphs(node))
    return total


__all__ = [
    "Pass",
    "PassContext",
    "PassContractError",
    "PassKind",
    "PassManager",
    "PassResult",
    "PassSpec",
    "Validation",
    "PassInstrument",
    "Pipeline",
    "Request",
    "count_nodes",
    "instantiate",
    "parse_pipeline",
]
