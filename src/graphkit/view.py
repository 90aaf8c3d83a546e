"""graphkit view: a model's findings where users look at graphs.

Two views of one diagnosis: the model with each node's findings written into its
documentation string (Netron shows it in the node panel), and a self-contained HTML report
whose findings link to the rows of a table of every node.
"""

from __future__ import annotations

import contextlib
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import onnx_ir as ir

from graphkit.diagnose import DiagnosisSet, walk
from graphkit.errors import InputError
from graphkit.findings import Finding

_MARK = "graphkit:"  # opens the lines graphkit adds to a doc string, so a rerun replaces them


@dataclass
class NodeView:
    """One node, where diagnose found it, and what each target said of it."""

    index: int  # position in the walk: the main graph's order, subgraphs after their node
    label: str
    node: ir.Node
    findings: list[Finding] = field(default_factory=list)


def node_views(model: ir.Model, diagnoses: DiagnosisSet) -> tuple[list[NodeView], list[Finding]]:
    """Every node (subgraphs and functions too) with its findings, and the findings about
    the model as a whole."""
    views = [NodeView(i, site.label, site.node) for i, site in enumerate(walk(model, None))]
    by_label = {view.label: view for view in views}
    whole = []
    for report in diagnoses.reports.values():
        for finding in report.findings:
            view = by_label.get(finding.node or "")
            (view.findings if view else whole).append(finding)
    return views, whole


def annotate(model: ir.Model, diagnoses: DiagnosisSet) -> int:
    """Write each node's findings into its doc string (after what the exporter wrote there,
    replacing what an earlier `graphkit view` added). Returns how many nodes got findings."""
    views, _ = node_views(model, diagnoses)
    annotated = 0
    for view in views:
        kept = [line for line in (view.node.doc_string or "").splitlines()
                if not line.startswith(_MARK)]
        lines = [f"{_MARK} {_finding_line(f)}" for f in view.findings]
        view.node.doc_string = "\n".join(kept + lines) or None
        annotated += bool(lines)
    return annotated


def _finding_line(finding: Finding) -> str:
    fix = f" (fix: {finding.fix})" if finding.fix else ""
    return f"[{finding.target}] {finding.severity.value} {finding.code} {finding.message}{fix}"


# --- HTML ------------------------------------------------------------------------------------

_STYLE = """
body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left;vertical-align:top}
.error{background:#f8d0d0}.warning{background:#fff3c4}.info{background:#e6f0ff}
tr:target{outline:3px solid #d33}#filter{margin:0.5em 0;width:30em}
"""

# Typing in the box hides the rows of nodes whose text does not contain it.
_SCRIPT = """
document.getElementById('filter').addEventListener('input', function (event) {
  var needle = event.target.value.toLowerCase();
  document.querySelectorAll('#nodes tr.node').forEach(function (row) {
    row.style.display = row.textContent.toLowerCase().indexOf(needle) >= 0 ? '' : 'none';
  });
});
"""


def render_html(model: ir.Model, diagnoses: DiagnosisSet, title: str) -> str:
    """The report: a verdict per target, every finding linked to its node's row, and the
    table of all nodes (op, inputs, outputs, findings) with a filter box."""
    views, whole = node_views(model, diagnoses)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
             _verdicts(diagnoses), _finding_list(views, whole), _node_table(views),
             f"<script>{_SCRIPT}</script></body></html>\n"]
    return "".join(parts)


def _verdicts(diagnoses: DiagnosisSet) -> str:
    items = []
    for name, report in diagnoses.reports.items():
        blockers = len(report.blockers)
        verdict = "takes the model" if report.convertible else f"blocked by {blockers} finding(s)"
        items.append(f"<li class='verdict' data-target='{_e(name)}'><b>{_e(name)}</b>: "
                     f"{verdict}</li>")
    return f"<h2>Targets</h2><ul>{''.join(items)}</ul>"


def _finding_list(views: list[NodeView], whole: list[Finding]) -> str:
    items = [f"<li class='{f.severity.value}'>{_e(_finding_line(f))}</li>" for f in whole]
    for view in views:
        for finding in view.findings:
            items.append(f"<li class='{finding.severity.value}'><a href='#node-{view.index}'>"
                         f"{_e(view.label)}</a>: {_e(_finding_line(finding))}</li>")
    body = "".join(items) or "<li>none: every target takes every node</li>"
    return f"<h2>Findings</h2><ul id='findings'>{body}</ul>"


def _node_table(views: list[NodeView]) -> str:
    rows = []
    for view in views:
        worst = _worst(view.findings)
        names = [_e(v.name) if v is not None else "" for v in view.node.inputs]
        outs = [_e(v.name) for v in view.node.outputs]
        findings = "<br>".join(_e(_finding_line(f)) for f in view.findings)
        rows.append(f"<tr id='node-{view.index}' class='node {worst}'><td>{view.index}</td>"
                    f"<td>{_e(view.label)}</td><td>{_e(view.node.op_type)}</td>"
                    f"<td>{', '.join(names)}</td><td>{', '.join(outs)}</td>"
                    f"<td>{findings}</td></tr>")
    return ("<h2>Nodes</h2><input id='filter' placeholder='filter nodes: name, op, finding'>"
            "<table id='nodes'><tr><th>#</th><th>node</th><th>op</th><th>inputs</th>"
            f"<th>outputs</th><th>findings</th></tr>{''.join(rows)}</table>")


def _worst(findings: Sequence[Finding]) -> str:
    for severity in ("error", "warning", "info"):
        if any(f.severity.value == severity for f in findings):
            return severity
    return ""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# --- Netron ----------------------------------------------------------------------------------


def serve_in_netron(path: Path, *, browse: bool, port: int | None) -> str:
    """Serve `path` with Netron (the optional `netron` package); return its address."""
    try:
        import netron
    except ImportError:
        raise InputError("graphkit view needs the netron package (pip install "
                         "'graphkit[view]'); --html writes a report without it") from None
    address = ("localhost", port) if port else None
    with contextlib.redirect_stdout(io.StringIO()):  # its own 'Serving ...' line: we say it
        host, bound = netron.start(str(path), address=address, browse=browse)
    return f"http://{host}:{bound}"
