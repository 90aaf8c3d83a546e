"""Every fix a target table names is real: on the op's ONNX conformance cases, `graphkit.fix`
for that target removes the finding and the outputs stay the case's expected outputs.

One test per (target, op) whose table entry names a fix (opsets/*.toml `fix`), found by
reading the tables, so an entry added later is covered without touching this file. A case
whose inputs are graph inputs is also tried with those inputs frozen into initializers:
fold-constants is offered only where a node's inputs are constants. Where a case's node
is one the pass declines (an Einsum with a trace), the fix must say so (GK505); at least
one case per entry must have its finding removed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import run_ort

import graphkit
from graphkit.backends import BACKENDS
from graphkit.targets._data import OpEntry, load_target_data

TABLES = ("tflite", "tensorrt", "ort-nnapi", "ort-coreml", "ort-coreml-mlprogram", "ort")
RTOL, ATOL = 1e-3, 1e-5  # the ONNX backend test's own tolerance is rtol 1e-3
CASES_PER_OP = 6  # Attention alone has 93 cases: the first few cover an entry in seconds


def _target_names(table: str, entry: OpEntry) -> list[str]:
    """The --target names that read this entry (one per version the entry applies to)."""
    data = load_target_data(table)
    names = [e.name for e in BACKENDS if e.name.split("@")[0] == table]
    if not entry.versions:
        return names[:1]
    return [n if "@" in n else n for n in names
            if (n.split("@")[1] if "@" in n else data.default_version) in entry.versions][:1]


def _entries_with_fix() -> list[tuple[str, str, str]]:
    found = []
    for table in TABLES:
        for entry in load_target_data(table).ops:
            if entry.fix:
                found += [(target, entry.op, entry.fix) for target in _target_names(table, entry)]
    return sorted(set(found))


@functools.cache
def _cases() -> dict[str, list]:
    """op -> its conformance cases (the single-op ones: expanded bodies are other ops)."""
    from onnx.backend.test.case.node import collect_testcases

    by_op: dict[str, list] = {}
    for case in collect_testcases(None):
        ops = {node.op_type for node in case.model.graph.node}
        if len(ops) == 1 and case.data_sets:
            by_op.setdefault(ops.pop(), []).append(case)
    return {op: cases[:CASES_PER_OP] for op, cases in by_op.items()}


def _variants(case) -> Iterator[tuple[onnx.ModelProto, dict[str, np.ndarray]]]:
    """The case as written, then with its inputs frozen into initializers."""
    inputs, _ = case.data_sets[0]
    names = [value.name for value in case.model.graph.input]
    if not all(isinstance(array, (np.ndarray, np.generic)) for array in inputs):
        return  # sequence or optional inputs: not what these tables are about
    feeds = {name: np.asarray(array) for name, array in zip(names, inputs)}
    if any(array.dtype.kind not in "biuf" for array in feeds.values()):
        return  # bfloat16 and the like: ONNX Runtime takes no such numpy arrays
    yield case.model, feeds
    frozen = onnx.ModelProto()
    frozen.CopyFrom(case.model)
    del frozen.graph.input[:]
    frozen.graph.initializer.extend(onnx.numpy_helper.from_array(a, n) for n, a in feeds.items())
    yield frozen, {}


def _promised(model: ir.Model, target: str, op: str, fix: str) -> list[graphkit.Finding]:
    """The op's findings that name the entry's pass (options such as ops= may be added)."""
    return [f for f in graphkit.diagnose(model, target).findings
            if f.op == op and f.fix and f.fix.split("{")[0] == fix.split("{")[0]]


@pytest.mark.parametrize(("target", "op", "fix"), _entries_with_fix())
def test_named_fix_removes_the_finding(target, op, fix):
    cases = _cases().get(op)
    assert cases, f"no conformance case for {op}: the table's fix {fix!r} is untested"
    removed = 0
    for case in cases:
        for proto, feeds in _variants(case):
            model = ir.serde.deserialize_model(proto)
            promised = _promised(model, target, op, fix)
            if not promised:
                continue
            fixed, report = graphkit.fix(model, target, inputs=feeds or None)
            left = {(f.code, f.node) for f in graphkit.diagnose(fixed, target).findings
                    if f.op == op}
            kept = [f for f in promised if (f.code, f.node) in left]
            if kept:
                declined = [f for f in report.findings if f.code == "GK505" and f.op == op]
                assert declined, f"{case.name}: {fix} left {kept} and said nothing"
                continue
            removed += 1
            expected = case.data_sets[0][1]
            for got, want in zip(run_ort(fixed, feeds), expected):
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=case.name)
    assert removed, f"{fix} removed no {op} finding on any conformance case for {target}"
