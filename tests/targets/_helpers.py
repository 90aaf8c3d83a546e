"""Shared by the target-table tests: diagnose a model written in ONNX text."""

from __future__ import annotations

from conftest import model_from_text

from graphkit.diagnose import diagnose
from graphkit.findings import Finding


def header(opset: int = 17, ir_version: int = 8) -> str:
    return f'<ir_version: {ir_version}, opset_import: ["" : {opset}]>\n'


def check(text: str, target: str, opset: int = 17) -> tuple[bool, list[Finding]]:
    report = diagnose(model_from_text(header(opset) + text), target)
    return report.convertible, report.findings


def codes(findings: list[Finding], op: str | None = None) -> list[str]:
    return [f.code for f in findings if op is None or f.op == op]


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]
