"""The pass manager: runs passes, times them, and proves every rewrite numerically.

A pass is analysis (reads the model, returns findings) or rewrite (changes the model
in place, returns whether it did and what it changed). After each rewrite that says it
modified the model the manager runs the ONNX checker and compares the model's outputs
with the original's on the same inputs; a rewrite that breaks either is rolled back and
reported (GK501/GK503).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal

import numpy as np
import onnx_ir as ir

from graphkit._oracle import Oracle, Validation, check_rewrite, looser
from graphkit.errors import first_line
from graphkit.findings import Finding, Severity
from graphkit.ir import copy_model
from graphkit.ir._gc import collector_paused
from graphkit.ir._initializers import allow_initializers_apart
from graphkit.ir._walk import CONTROL_FLOW as _CONTROL_FLOW
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
    """Base class. Subclasses are frozen dataclasses whose fields are the pass's options."""

    name: ClassVar[str]
    kind: ClassVar[PassKind]
    fixes: ClassVar[tuple[str, ...]] = ()  # finding codes this rewrite resolves
    # The rewrite only removes nodes or points uses at values of the same type and shape, so
    # shapes inferred before it are still what inference would give after it.
    preserves_shapes: ClassVar[bool] = False

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        raise NotImplementedError

    def input_domains(self, model: ir.Model) -> dict[str, np.dtype]:
        """Graph inputs this rewrite narrows by design to the values of another dtype (a float
        image that will arrive as uint8). The proof draws those inputs from that dtype, since
        on other values the outputs differ by design."""
        return {}


ProgressFn = Callable[[str, int, int], None]


class PassContractError(RuntimeError):
    """A pass broke the contract of PassResult: a graphkit (or plugin) bug, not bad input."""


class PassManager:
    def __init__(
        self,
        passes: Sequence[Pass],
        *,
        validation: Validation | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.passes = list(passes)
        self.validation = validation or Validation()
        self.progress = progress

    def run(self, model: ir.Model, ctx: PassContext | None = None) -> tuple[ir.Model, Report]:
        """Run every pass; each rewrite ends up proven or rolled back.

        Optimistic first: one checkpoint, all passes, one proof of the result. Only when
        that proof fails (or a pass replaces the outputs by design, or crashes) does it go
        back to the checkpoint and prove pass by pass, to find and undo the culprit. A
        proof costs a serialization and an ORT session: once per list, not once per pass.
        """
        ctx = ctx or PassContext()
        report = Report(model=model.graph.name or "model", target=ctx.target)
        with collector_paused():
            return self._run(model, ctx, report)

    def _run(self, model: ir.Model, ctx: PassContext, report: Report) -> tuple[ir.Model, Report]:
        domains = {name: dtype for pass_ in self.passes
                   for name, dtype in pass_.input_domains(model).items()}
        oracle = Oracle.build(model, self.validation, report, domains)
        if oracle is None or not oracle.enabled:
            model = self._run_all(model, ctx, report)
            return model, report
        fast = Report(model=report.model, target=report.target)
        try:
            model = self._run_all(model, ctx, fast)
            crashed = False
        except Exception:
            crashed = True
        report.runtime = oracle.wait().runtime  # raises if the original cannot be run
        proof = None
        if not crashed and not fast.replaced_outputs:
            proof = oracle.check(model, fast.post_models, fast.tolerance)
        if proof is not None and proof.ok:
            _merge(report, fast)
            oracle.post_models.extend(fast.post_models)
            oracle.tolerance = looser(oracle.tolerance, fast.tolerance)
            report.validation, report.capture = proof.diffs, proof.light  # of this very model
            return model, report
        model = self._run_careful(oracle.start.restore(), ctx, oracle, report)
        if oracle.enabled:
            final = oracle.check(model)
            report.validation, report.capture = final.diffs, final.light
        return model, report

    def _run_all(self, model: ir.Model, ctx: PassContext, report: Report) -> ir.Model:
        """Every pass, no proofs (validation off, or the optimistic first try)."""
        nodes = None  # each pass starts with the count the one before it ended with
        for index, pass_ in enumerate(self.passes):
            if self.progress:
                self.progress(pass_.name, index, len(self.passes))
            result, record = _timed(pass_, model, ctx, nodes)
            ctx = _shapes_after(pass_, result, ctx)
            nodes = record.nodes_after
            report.passes.append(record)
            report.findings.extend(result.findings)
            report.post_models.extend(result.post_models)
            report.replaced_outputs |= result.outputs_replaced and not result.post_models
            if result.modified and result.tolerance is not None:
                report.tolerance = looser(report.tolerance, result.tolerance)
        return model

    def _run_careful(
        self, model: ir.Model, ctx: PassContext, oracle: Oracle, report: Report
    ) -> ir.Model:
        # Rare (the optimistic proof failed) and full of rollbacks: every pass infers afresh.
        ctx = replace(ctx, shapes_current=False)
        for index, pass_ in enumerate(self.passes):
            if self.progress:
                self.progress(pass_.name, index, len(self.passes))
            model = self._run_one(pass_, model, ctx, oracle, report)
        return model

    def _run_one(self, pass_, model, ctx, oracle, report) -> ir.Model:
        snapshot = copy_model(model) if pass_.kind == "rewrite" else None
        try:
            result, record = _timed(pass_, model, ctx)
        except Exception as err:  # a pass bug must not take the user's job down with it
            report.findings.append(
                Finding(
                    "GK501",
                    Severity.ERROR,
                    f"pass '{pass_.name}' failed ({type(err).__name__}: "
                    f"{first_line(err)}); its changes were rolled back",
                )
            )
            return snapshot if snapshot is not None else model
        report.passes.append(record)
        report.findings.extend(result.findings)
        if snapshot is None or not result.modified:
            return model
        if result.outputs_replaced and not result.post_models:
            report.findings.extend(oracle.rebase(model, pass_.name))
            return model
        problem = check_rewrite(model, oracle, result.post_models, result.tolerance)
        if problem is None:
            oracle.post_models.extend(result.post_models)
            oracle.tolerance = looser(oracle.tolerance, result.tolerance)
            report.tolerance = looser(report.tolerance, result.tolerance)
            report.post_models.extend(result.post_models)
            return model
        record.rolled_back = True
        record.nodes_after = record.nodes_before
        report.findings.append(problem(pass_.name))
        return snapshot


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
    report.tolerance = looser(report.tolerance, part.tolerance)


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


def _subgraphs(node: ir.Node):
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.GRAPH:
            yield attr.value
        elif attr.type == ir.AttributeType.GRAPHS:
            yield from attr.value


# --- pipelines: "fold-constants,fuse{rules=conv-bn}" -----------------------------------


@dataclass(frozen=True)
class PassSpec:
    name: str
    options: Mapping[str, str] = field(default_factory=dict)


def parse_pipeline(text: str) -> list[PassSpec]:
    """Parse the pipeline string the CLI and the code share."""
    specs: list[PassSpec] = []
    for item in _split_top_level(text):
        name, _, rest = item.partition("{")
        name = name.strip()
        if not name:
            raise ValueError(f"empty pass name in pipeline {text!r}")
        options: dict[str, str] = {}
        if rest:
            if not rest.endswith("}"):
                raise ValueError(f"pass '{name}': options must end with '}}' in {item!r}")
            for pair in filter(None, (p.strip() for p in rest[:-1].split(","))):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValueError(f"pass '{name}': option {pair!r} is not key=value")
                options[key.strip()] = value.strip()
        specs.append(PassSpec(name, options))
    return specs


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def build_pipeline(text: str, registry: Mapping[str, type[Pass]] | None = None) -> list[Pass]:
    from graphkit.passes import pass_registry

    registry = registry if registry is not None else pass_registry()
    passes = []
    for spec in parse_pipeline(text):
        if spec.name not in registry:
            known = ", ".join(sorted(registry))
            raise ValueError(f"unknown pass '{spec.name}'; known passes: {known}")
        passes.append(instantiate(registry[spec.name], spec.options))
    return passes


def instantiate(cls: type[Pass], options: Mapping[str, str]) -> Pass:
    """Build a pass from string options, converting each to its dataclass field's type."""
    declared = {f.name.replace("_", "-"): f for f in fields(cls)} if _is_dataclass(cls) else {}
    kwargs: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ValueError(f"pass '{cls.name}' has no option '{key}' (options: {allowed})")
        kwargs[declared[key].name] = _convert(raw, declared[key].type, cls.name, key)
    return cls(**kwargs)


def _is_dataclass(cls: type) -> bool:
    return hasattr(cls, "__dataclass_fields__")


def _convert(raw: str, annotation: Any, pass_name: str, key: str) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "str")
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("bool"):
            if raw.lower() not in {"true", "false", "1", "0"}:
                raise ValueError(raw)
            return raw.lower() in {"true", "1"}
        if kind.startswith("tuple"):
            return tuple(part for part in raw.split("+") if part)
    except ValueError:
        raise ValueError(
            f"pass '{pass_name}': option '{key}' expects {kind}, got {raw!r}"
        ) from None
    return raw


__all__ = [
    "Pass",
    "PassContext",
    "PassContractError",
    "PassKind",
    "PassManager",
    "PassResult",
    "PassSpec",
    "Validation",
    "build_pipeline",
    "count_nodes",
    "instantiate",
    "parse_pipeline",
]
