"""Why won't this model run on target T? Every node checked, before any conversion.

One shape inference per model, then one linear walk over every node (main graph,
If/Loop/Scan bodies, model-local function bodies) that asks each target about each
node. Findings name the node (its name, or `#index Op` where it has none, with the
path through subgraphs), say why in one sentence, and name the pass that fixes it.

    report = graphkit.diagnose("model.onnx", "ort")
    report.convertible, report.blockers, report.partitions
    several = graphkit.diagnose(model, ["ort", "tflite"])   # one inference for all
    several.convertible, several.reports["tflite"].blockers
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import onnx_ir as ir

from graphkit.backends import get_target
from graphkit.backends.base import Target
from graphkit.errors import quoted
from graphkit.findings import Finding, Severity
from graphkit.frontends import load
from graphkit.ir._initializers import overridable_initializers
from graphkit.min_opset import model_min_opset
from graphkit.partitions import Partitions, partition
from graphkit.passes import pass_registry
from graphkit.passmanager import parse_pipeline
from graphkit.report import Report
from graphkit.runner import LightModel
from graphkit.targets._facts import infer_value_facts
from graphkit.targets.base import NodeContext, ValueFacts
from graphkit.targets.frozen_shapes import frozen_shape_findings

FunctionKey = tuple[str, str, str]  # (domain, name, overload), as ir.Model.functions keys


@dataclass
class Diagnosis(Report):
    """One target's verdict: the findings, and how the graph splits into runnable parts."""

    partitions: Partitions | None = None
    seconds: float = 0.0
    # The target hands nodes it cannot take to onnxruntime's CPU EP (the mobile EPs), so
    # the partitions say how much of the graph runs on it; otherwise one blocker stops all.
    fallback: bool = False

    @property
    def convertible(self) -> bool:
        return not self.blockers

    def to_json(self) -> dict[str, Any]:
        return {
            "convertible": self.convertible,
            "fallback": self.fallback,
            "findings": [finding_json(f) for f in self.findings],
            "partitions": self.partitions.to_json() if self.partitions else None,
        }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code, "slug": finding.slug, "severity": finding.severity.value,
        "node": finding.node, "op": finding.op, "message": finding.message, "fix": finding.fix,
    }


@dataclass
class DiagnosisSet:
    """Several targets' verdicts on one model (the CLI's matrix view)."""

    model: str
    reports: dict[str, Diagnosis]
    # min_opset.model_min_opset's answer: declared, as_written, reachable, per node
    # and per target (None when not asked for).
    min_opset: dict[str, Any] | None = None
    nodes: int = 0
    op_types: list[str] = field(default_factory=list)  # every op type, subgraphs included

    @property
    def convertible(self) -> bool:
        return all(report.convertible for report in self.reports.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "min_opset": self.min_opset,
            "nodes": self.nodes,
            "targets": {name: report.to_json() for name, report in self.reports.items()},
        }


@dataclass(frozen=True)
class Site:
    """One node where it sits: its context, display label, and top-level ancestor."""

    node: ir.Node
    ctx: NodeContext
    label: str
    top: int | None  # index of the main-graph node that holds it (None in functions)
    function: FunctionKey | None = None  # the local function whose body holds it


@overload
def diagnose(model: Any, target: str | Target = "ort", *,
             light: LightModel | None = None) -> Diagnosis: ...


@overload
def diagnose(model: Any, target: list[str | Target] | tuple[str | Target, ...], *,
             light: LightModel | None = None) -> DiagnosisSet: ...


def diagnose(model: Any, target: Any = "ort", *,
             light: LightModel | None = None) -> Diagnosis | DiagnosisSet:
    """Check every node of `model` (anything graphkit.load accepts) against one target.

    A list (or tuple) of targets checks them all on one load and one shape inference, as
    `graphkit diagnose -t ort -t tflite` does, and gives a DiagnosisSet (`.reports[name]`)."""
    if isinstance(target, (list, tuple)):
        return diagnose_targets(model, target, min_opset=False, light=light)
    targets = [get_target(target)]
    return diagnose_targets(model, targets, min_opset=False, light=light).reports[targets[0].name]


def diagnose_targets(model: Any, targets: Sequence[str | Target], *, min_opset: bool = True,
                     light: LightModel | None = None) -> DiagnosisSet:
    """Check several targets at once, sharing one load and one shape inference.

    `light`: the model captured as a LightModel, when the caller has one (fix has): shape
    inference reads its proto instead of serializing the graph again."""
    if isinstance(targets, str):
        targets = [targets]  # one name, not its letters
    resolved = [get_target(t) for t in targets]  # unknown names fail before any work
    if not resolved:
        raise ValueError("diagnose: give at least one target")
    loaded = load(model)
    values, inference_error = infer_value_facts(loaded, light.proto if light else None)
    sites = list(walk(loaded, values))
    name = loaded.graph.name or (str(model) if isinstance(model, str) else "model")
    reports = {}
    frozen = frozen_shape_findings(loaded)  # GK303, whatever the target
    for target in resolved:
        report = _diagnose_one(loaded, sites, target)
        report.findings.extend(dataclasses.replace(f, target=target.name) for f in frozen)
        if inference_error:
            report.findings.insert(0, _inference_warning(inference_error, target.name))
        assumed = _overridable_initializers_warning(loaded, target.name)
        if assumed is not None:  # first: fix runs its pass before the ones that need constants
            report.findings.insert(0, assumed)
        reports[target.name] = report
    floor = model_min_opset(loaded, values) if min_opset else None
    op_types = sorted({site.node.op_type for site in sites})
    return DiagnosisSet(name, reports, floor, len(sites), op_types)


def _diagnose_one(model: ir.Model, sites: list[Site], target: Target) -> Diagnosis:
    start = time.perf_counter()
    report = Diagnosis(model=model.graph.name or "model", target=target.name,
                       fallback=bool(getattr(target, "falls_back", False)))
    report.findings.extend(dataclasses.replace(f, target=target.name)
                           for f in target.check_model(model))
    blocked_tops: set[int] = set()
    blocked_functions: set[FunctionKey] = set()
    for site in sites:
        found = target.check_node(site.node, site.ctx)
        if not found:
            continue
        report.findings.extend(_labelled(f, site, target.name) for f in found)
        if any(off_target(f) for f in found):
            _mark_blocked(site, blocked_tops, blocked_functions)
    _propagate_function_blocks(sites, blocked_tops, blocked_functions)
    report.partitions = _partitions(model, sites, blocked_tops)
    report.seconds = time.perf_counter() - start
    return report


def off_target(finding: Finding) -> bool:
    """The node does not run on the target: a blocker, or (for an execution provider that
    hands nodes back to the CPU) a GK108 node, which is where ORT splits the graph."""
    return finding.blocking or finding.code == "GK108"


def _mark_blocked(site: Site, tops: set[int], functions: set[FunctionKey]) -> None:
    if site.top is not None:
        tops.add(site.top)
    if site.function is not None:
        functions.add(site.function)


def _propagate_function_blocks(sites: list[Site], tops: set[int],
                               functions: set[FunctionKey]) -> None:
    """A call to a function whose body does not run does not run either (to a fixed point)."""
    calls = [(site, _call_key(site.node)) for site in sites
             if site.ctx.is_local_function(site.node)]
    changed = bool(functions)
    while changed:
        changed = False
        for site, key in calls:
            if key not in functions:
                continue
            if site.top is not None and site.top not in tops:
                tops.add(site.top)
            if site.function is not None and site.function not in functions:
                functions.add(site.function)
                changed = True


def _call_key(node: ir.Node) -> FunctionKey:
    return (node.domain, node.op_type, node.overload)


def _labelled(finding: Finding, site: Site, target: str) -> Finding:
    node = site.label if finding.node in (None, "", site.node.name) else finding.node
    finding = dataclasses.replace(finding, node=node, op=finding.op or site.node.op_type,
                                  target=target)
    return _beyond_its_fix(finding) if site.ctx.in_subgraph else finding


def _beyond_its_fix(finding: Finding) -> Finding:
    """A finding inside a subgraph or function whose fix names a pass that rewrites only the
    main graph says so, rather than promise a fix that would leave the node as it is."""
    if not finding.fix:
        return finding
    try:
        names = [spec.name for spec in parse_pipeline(finding.fix)]
    except ValueError:
        return finding
    short = [name for name in names if not _reaches_subgraphs(name)]
    if not short:
        return finding
    return dataclasses.replace(
        finding, fix=None,
        message=f"{finding.message} (inside a subgraph or function: the '{short[0]}' pass "
                "rewrites only the main graph, so fix leaves this node as it is)")


@functools.cache
def _reaches_subgraphs(pass_name: str) -> bool:
    """Whether the pass declares that it rewrites If/Loop/Scan bodies and functions (an
    unknown name is not ours to judge: its finding keeps the fix it names)."""
    cls = pass_registry().get(pass_name)
    return cls is None or bool(getattr(cls, "reaches_subgraphs", False))  # plugins too


def _partitions(model: ir.Model, sites: list[Site], blocked: set[int]) -> Partitions:
    if not blocked:  # one piece, whatever the edges: spare collecting them (0.03 s at 8k nodes)
        return partition([True] * len(model.graph), [])
    top_level = list(model.graph)
    top_of = {site.node: site.top for site in sites if site.top is not None}
    edges = []
    for site in sites:
        if site.top is None:
            continue
        for value in site.node.inputs:
            producer = value.producer() if value is not None else None
            source = top_of.get(producer) if producer is not None else None
            if source is not None and source != site.top:
                edges.append((source, site.top))
    return partition([index not in blocked for index in range(len(top_level))], edges)


def walk(model: ir.Model, values: ValueFacts) -> Iterator[Site]:
    """Every node once: main graph in order, each node's subgraphs after it, then functions."""
    opsets = dict(model.opset_imports)
    functions = dict(model.functions)
    root = NodeContext(opset=opsets.get("", 0), opsets=opsets, graph=model.graph,
                       in_subgraph=False, values=values, functions=functions)
    for index, node in enumerate(model.graph):
        label = node.name or f"#{index} {node.op_type}"
        yield Site(node, root, label, index)
        yield from _subgraph_sites(node, root, label, index, None)
    for key, function in functions.items():
        yield from _function_sites(key, function, functions)


def _subgraph_sites(node: ir.Node, outer: NodeContext, label: str, top: int | None,
                    function: FunctionKey | None) -> Iterator[Site]:
    for attr in node.attributes.values():
        if attr.type == ir.AttributeType.GRAPH:
            graphs = [(attr.name, attr.value)]
        elif attr.type == ir.AttributeType.GRAPHS:
            graphs = [(f"{attr.name}[{i}]", g) for i, g in enumerate(attr.value)]
        else:
            continue
        for where, graph in graphs:
            ctx = dataclasses.replace(outer, graph=graph, in_subgraph=True)
            for index, inner in enumerate(graph):
                inner_label = f"{label}/{where}/{inner.name or f'#{index} {inner.op_type}'}"
                yield Site(inner, ctx, inner_label, top, function)
                yield from _subgraph_sites(inner, ctx, inner_label, top, function)


def _function_sites(key: FunctionKey, function: ir.Function,
                    functions: dict) -> Iterator[Site]:
    opsets = dict(function.opset_imports)
    # A body's value names are its own: the main graph's inferred facts do not apply.
    ctx = NodeContext(opset=opsets.get("", 0), opsets=opsets, graph=function,
                      in_subgraph=True, values=ValueFacts(), functions=functions)
    prefix = f"{key[0]}::{key[1]}" + (f":{key[2]}" if key[2] else "")
    for index, node in enumerate(function):
        label = f"{prefix}/{node.name or f'#{index} {node.op_type}'}"
        yield Site(node, ctx, label, None, key)
        yield from _subgraph_sites(node, ctx, label, None, key)


def _overridable_initializers_warning(model: ir.Model, target: str) -> Finding | None:
    """What diagnose assumes about initializers that are also graph inputs (GK306)."""
    found = overridable_initializers(model.graph)
    if not found:
        return None
    names = quoted([value.name for value in found])
    why = ", as IR version < 4 required" if model.ir_version < 4 else ""
    return Finding(
        "GK306", Severity.WARNING,
        f"{len(found)} initializer(s) are also graph inputs ({names}){why}: a caller may feed "
        "them, so this analysis treats them as run-time inputs, not constants (their "
        "initializers are only defaults); 'fold-initializer-inputs' makes them constants, "
        "as deployment usually wants",
        fix="fold-initializer-inputs", target=target)


def _inference_warning(error: str, target: str) -> Finding:
    return Finding("GK305", Severity.WARNING,
                   f"ONNX shape inference failed, so dtype checks see only declared types: {error}",
                   target=target)


__all__ = ["Diagnosis", "DiagnosisSet", "Site", "diagnose", "diagnose_targets", "off_target",
           "walk"]
