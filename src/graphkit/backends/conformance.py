"""Run the ONNX backend conformance cases through an emitter and record what really works.

Each case is one small model plus input/expected-output data sets. A case passes when
the emitter writes an artifact and every output of every data set matches: same shape,
same dtype, allclose(rtol, atol) with NaN equal to NaN. The target's own analysis
(`unsupported_reason`) is compared with that outcome: analysis and emission must agree.

Targets plug in through their registry row (graphkit.backends.BACKENDS): the emitter's
emit and unsupported_reason, the runner's run_artifact.
"""

from __future__ import annotations

import importlib
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.backends import emitter, runner
from graphkit.diagnose import diagnose
from graphkit.errors import first_line
from graphkit.ir import model_from_proto

RTOL = 1e-3
ATOL = 1e-4
# Element types outside the "standard" set: the data of these cases cannot be plain numpy.
NONSTANDARD_DTYPES = frozenset({
    "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT8E8M0",
    "INT4", "UINT4", "INT2", "UINT2", "FLOAT4E2M1", "FLOAT6E2M3", "FLOAT6E3M2",
})


@dataclass(frozen=True)
class TargetAdapter:
    name: str
    suffix: str
    emit: Callable[[ir.Model, Path], Any]
    run_artifact: Callable[[Path, dict[str, Any]], dict[str, Any]]
    unsupported_reason: Callable[[ir.Node, int], str | None] | None = None
    # False: the runner cannot take or return the non-standard dtypes (bfloat16, float8,
    # int4, ...), so what the analysis says of those cases cannot be checked.
    feeds_nonstandard: bool = True


def adapter(target: str) -> TargetAdapter:
    """The adapter of a target whose registry row names an emitter and a runner."""
    writes, runs = emitter(target), runner(target)
    reason = getattr(writes, "unsupported_reason", None)
    suffix = writes.SUFFIXES[0]  # each emitter names the files it writes, its usual one first
    # The runner's to say; an emitter package that states it for both is read as well.
    feeds = getattr(runs, "FEEDS_NONSTANDARD_DTYPES",
                    getattr(writes, "FEEDS_NONSTANDARD_DTYPES", True))
    return TargetAdapter(target, suffix, writes.emit, runs.run_artifact, reason, feeds)


@dataclass
class CaseResult:
    name: str
    ops: list[str]
    opset: int
    standard: bool
    passed: bool
    reason: str = ""  # why it failed
    predicted: str | None = None  # unsupported_reason of the first rejected node, None = lowerable
    measured: bool = True  # False: the runner cannot feed this case's data (see TargetAdapter)

    @property
    def agrees(self) -> bool:
        """Whether the analysis predicted the outcome (always True for an unmeasured case)."""
        return not self.measured or (self.predicted is None) == self.passed


@dataclass
class Summary:
    results: list[CaseResult] = field(default_factory=list)

    def rate(self, standard_only: bool = False) -> tuple[int, int]:
        chosen = [r for r in self.results if r.standard or not standard_only]
        return sum(r.passed for r in chosen), len(chosen)

    def disagreements(self) -> list[CaseResult]:
        return [r for r in self.results if not r.agrees]

    def measured(self) -> int:
        """Cases whose outcome can check the analysis."""
        return sum(r.measured for r in self.results)


def load_cases(ops: Iterable[str] | None = None, keyword: str | None = None) -> list[Any]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    wanted = set(ops or ())
    chosen = []
    for case in cases:
        if keyword and keyword not in case.name:
            continue
        if wanted and not wanted & set(op_types(case.model.graph)):
            continue
        chosen.append(case)
    return chosen


def op_types(graph: onnx.GraphProto) -> list[str]:
    """Op types in a graph and its subgraphs, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for node in graph.node:
        seen[node.op_type] = None
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                seen.update(dict.fromkeys(op_types(sub)))
    return list(seen)


def is_standard(case: Any) -> bool:
    return not _data_dtypes(case) & NONSTANDARD_DTYPES


def _data_dtypes(case: Any) -> set[str]:
    names: set[str] = set()

    def add(item: Any) -> None:
        if isinstance(item, onnx.TensorProto):
            names.add(onnx.TensorProto.DataType.Name(item.data_type))
        elif isinstance(item, np.ndarray):
            names.add(str(item.dtype).upper())
        elif isinstance(item, (list, tuple)):
            for element in item:
                add(element)

    for inputs, outputs in case.data_sets:
        add(list(inputs))
        add(list(outputs))
    return names


def run_case(case: Any, target: TargetAdapter, workdir: Path) -> CaseResult:
    model = model_from_proto(case.model, origin=case.name)
    opset = model.opset_imports.get("", 1)
    result = CaseResult(case.name, op_types(case.model.graph), opset, is_standard(case), False)
    result.measured = result.standard or target.feeds_nonstandard
    result.predicted = predict(model, target, opset)
    path = workdir / f"{case.name}{target.suffix}"
    try:
        target.emit(model, path)
        result.reason = _check_data_sets(case, model, target, path)
    except Exception as err:  # any failure of emit or run is the case's outcome
        result.reason = f"{type(err).__name__}: {first_line(err)}"
    result.passed = result.reason == ""
    return result


def predict(model: ir.Model, target: TargetAdapter, opset: int) -> str | None:
    if target.unsupported_reason is None:
        return _diagnosed(model, target.name)
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        reason = target.unsupported_reason(node, opset)
        if reason is not None:
            return f"{node.op_type}: {reason}"
    return None


def _diagnosed(model: ir.Model, target: str) -> str | None:
    """Without a per-node table (ort), the analysis is diagnose's model-level verdict."""
    blockers = diagnose(model, target).blockers
    return f"{blockers[0].op}: {blockers[0].message}" if blockers else None


def _check_data_sets(case: Any, model: ir.Model, target: TargetAdapter, path: Path) -> str:
    inputs = [v.name for v in model.graph.inputs if v.name not in model.graph.initializers]
    outputs = [v.name for v in model.graph.outputs]
    for index, (feeds, expected) in enumerate(case.data_sets):
        got = target.run_artifact(path, {n: _as_data(a) for n, a in zip(inputs, feeds)})
        for name, want in zip(outputs, expected):
            problem = compare(_as_data(want), got.get(name))
            if problem:
                return f"data set {index}, output '{name}': {problem}"
    return ""


def _as_data(item: Any) -> Any:
    if isinstance(item, onnx.TensorProto):
        return onnx.numpy_helper.to_array(item)
    if isinstance(item, (list, tuple)):
        return [_as_data(element) for element in item]
    if isinstance(item, np.generic):  # some cases store a scalar input as np.int32(10)
        return np.asarray(item)
    return item


def compare(expected: Any, actual: Any) -> str:
    """'' when equal within tolerance; else what differs."""
    if expected is None or actual is None:
        return "" if expected is None and actual is None else "one side is None"
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return "sequence lengths differ"
        return next((p for p in map(compare, expected, actual) if p), "")
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        return f"shape {actual.shape} != expected {expected.shape}"
    if expected.dtype != actual.dtype:
        return f"dtype {actual.dtype} != expected {expected.dtype}"
    if expected.dtype.kind in "OUS" or expected.dtype == np.bool_:
        return "" if np.array_equal(expected, actual) else "values differ"
    wide_e, wide_a = expected.astype(np.float64), actual.astype(np.float64)
    if np.allclose(wide_a, wide_e, rtol=RTOL, atol=ATOL, equal_nan=True):
        return ""
    error = np.abs(np.nan_to_num(wide_a - wide_e, nan=np.inf))
    return f"max abs error {float(error.max()):.3g}"


def run(cases: list[Any], target: TargetAdapter,
        progress: Callable[[CaseResult], None] | None = None) -> Summary:
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="graphkit-conformance-") as folder:
        for case in cases:
            result = run_case(case, target, Path(folder))
            summary.results.append(result)
            if progress is not None:
                progress(result)
    return summary


def table(summary: Summary, target: str) -> dict[str, Any]:
    """The generated table: per op and opset, how many cases containing the op pass."""
    ops: dict[str, dict[str, dict[str, Any]]] = {}
    for result in summary.results:
        for op in result.ops:
            cell = ops.setdefault(op, {}).setdefault(str(result.opset), {"pass": 0, "fail": 0})
            cell["pass" if result.passed else "fail"] += 1
            if not result.passed:
                cell.setdefault("reasons", {})[result.name] = result.reason
    passed, total = summary.rate()
    std_passed, std_total = summary.rate(standard_only=True)
    return {
        "target": target,
        "versions": _versions(),
        "tolerance": {"rtol": RTOL, "atol": ATOL},
        "summary": {
            "cases": total, "passed": passed,
            "standard_cases": std_total, "standard_passed": std_passed,
            "measured": summary.measured(),
            "agreement": summary.measured() - len(summary.disagreements()),
        },
        "ops": dict(sorted(ops.items())),
        "disagreements": {r.name: {"predicted": r.predicted, "outcome": r.reason or "passed"}
                          for r in summary.disagreements()},
    }


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("onnx", "torch", "onnxruntime", "onnx_ir"):
        try:
            versions[package] = importlib.import_module(package).__version__
        except ImportError:
            continue
    return versions
