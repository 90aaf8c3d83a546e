"""Op-compatibility tables: ops x targets, for one model or for the whole ONNX op set.

For a model, each cell comes from `diagnose`: `ok`, `fix` (blocked, and the pass that
resolves it), or `no` (blocked, nothing resolves it), with the reason. Without a model,
cells come from the conformance results that tools/conformance.py writes to
opsets/generated/<target>.json: the cases of that op each target really passed.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from graphkit.errors import InputError


@dataclass(frozen=True)
class Cell:
    status: str  # ok | fix | no | warn | partial | untested
    detail: str = ""  # the pass that fixes it, the reason, or "12/14 cases"

    def text(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status


@dataclass
class Table:
    title: str
    targets: list[str]
    rows: dict[str, dict[str, Cell]] = field(default_factory=dict)  # op -> target -> cell
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "targets": self.targets,
            "ops": {op: {t: {"status": c.status, "detail": c.detail} for t, c in cells.items()}
                    for op, cells in self.rows.items()},
            "notes": self.notes,
        }


def model_table(model: Any, targets: Sequence[str]) -> Table:
    """A row per op type in the model, a column per target."""
    from graphkit.diagnose import diagnose_targets

    diagnoses = diagnose_targets(model, list(targets))
    table = Table(title=f"ops of {diagnoses.model}", targets=list(targets))
    ops = _model_ops(model)
    for op in ops:
        table.rows[op] = {name: Cell("ok") for name in targets}
    for name, report in diagnoses.reports.items():
        for finding in report.findings:
            if finding.op in table.rows:
                table.rows[finding.op][name] = _worse(table.rows[finding.op][name], finding)
    return table


def _model_ops(model: Any) -> list[str]:
    import onnx_ir as ir

    from graphkit.frontends import load

    loaded = load(model)
    ops = {node.op_type for node in ir.traversal.RecursiveGraphIterator(loaded.graph)}
    return sorted(ops)


_RANK = {"ok": 0, "warn": 1, "fix": 2, "no": 3}


def _worse(cell: Cell, finding) -> Cell:
    if not finding.blocking:
        candidate = Cell("warn", finding.message)
    elif finding.fix:
        candidate = Cell("fix", finding.fix)
    else:
        candidate = Cell("no", finding.message)
    return candidate if _RANK[candidate.status] > _RANK[cell.status] else cell


def generated_results(target: str) -> dict[str, Any] | None:
    """opsets/generated/<target>.json, or None when conformance never ran for it."""
    resource = resources.files("graphkit.opsets") / "generated" / f"{target}.json"
    if not resource.is_file():
        return None
    return json.loads(resource.read_text())


def operator_set_table(targets: Sequence[str]) -> Table:
    """A row per ONNX op with conformance cases, a column per target with generated data."""
    table = Table(title="ONNX operators by target (conformance cases passed)", targets=[])
    for target in targets:
        data = generated_results(target)
        if data is None:
            table.notes.append(f"{target}: no generated data (run tools/conformance.py "
                               f"--target {target})")
            continue
        table.targets.append(target)
        table.notes.append(_provenance(target, data))
        for op, cell in _op_cells(data).items():
            table.rows.setdefault(op, {})[target] = cell
    if not table.targets:
        raise InputError("no conformance data for any of the targets asked for")
    table.rows = dict(sorted(table.rows.items()))
    return table


def _op_cells(data: dict[str, Any]) -> dict[str, Cell]:
    """Per op: the conformance cases containing it that passed, over all opsets tested."""
    cells = {}
    for op, by_opset in data["ops"].items():
        passed = sum(entry["pass"] for entry in by_opset.values())
        total = passed + sum(entry["fail"] for entry in by_opset.values())
        status = "ok" if passed == total else ("no" if passed == 0 else "partial")
        opsets = ", ".join(sorted(by_opset, key=int))
        cells[op] = Cell(status, f"{passed}/{total} cases (opset {opsets})")
    return cells


def _provenance(target: str, data: dict[str, Any]) -> str:
    summary = data.get("summary", {})
    versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
    return (f"{target}: {summary.get('passed', '?')}/{summary.get('cases', '?')} conformance "
            f"cases passed, measured with {versions}")


# --- rendering ---------------------------------------------------------------------------


def render(table: Table, fmt: str) -> str:
    return {"md": to_markdown, "csv": to_csv, "html": to_html,
            "json": lambda t: json.dumps(t.to_json(), indent=2)}[fmt](table)


def _cell(table: Table, op: str, target: str) -> str:
    cell = table.rows[op].get(target)
    return cell.text() if cell else "untested"


def to_markdown(table: Table) -> str:
    lines = [f"# {table.title}", "", "| op | " + " | ".join(table.targets) + " |",
             "|---|" + "---|" * len(table.targets)]
    for op in table.rows:
        cells = [_cell(table, op, t).replace("|", "\\|") for t in table.targets]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["op", *table.targets])
    for op in table.rows:
        writer.writerow([op, *(_cell(table, op, t) for t in table.targets)])
    return out.getvalue()


_COLORS = {"ok": "#d9f2d9", "partial": "#fff3c4", "warn": "#fff3c4", "fix": "#ffe0b3",
           "no": "#f8d0d0"}


def to_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for t in table.targets)
    body = []
    for op, cells in table.rows.items():
        tds = []
        for target in table.targets:
            cell = cells.get(target, Cell("untested"))
            color = _COLORS.get(cell.status, "#eee")
            tds.append(f'<td style="background:{color}">{html.escape(cell.text())}</td>')
        body.append(f"<tr><th>{html.escape(op)}</th>{''.join(tds)}</tr>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    return (
        "<!doctype html><meta charset='utf-8'><title>graphkit table</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}</style>"
        f"<h1>{html.escape(table.title)}</h1><table><tr><th>op</th>{head}</tr>"
        f"{''.join(body)}</table><ul>{notes}</ul>\n"
    )
