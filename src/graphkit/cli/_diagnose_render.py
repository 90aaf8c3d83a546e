"""How a diagnosis reads: repeated findings grouped, as rich text, Markdown or one HTML page."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from graphkit.diagnose import Diagnosis, DiagnosisSet
from graphkit.findings import Finding

NODES_SHOWN = 3  # node names listed per group before "+N more"


@dataclass
class Group:
    """Findings that say the same thing about different nodes."""

    code: str
    slug: str
    severity: str
    op: str
    fix: str | None
    example: str
    nodes: list[str] = field(default_factory=list)

    @property
    def node_list(self) -> str:
        shown = ", ".join(self.nodes[:NODES_SHOWN])
        more = len(self.nodes) - NODES_SHOWN
        return f"{shown} (+{more} more)" if more > 0 else shown


def group_findings(findings: list[Finding]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for finding in findings:
        key = (finding.code, finding.op or "", finding.fix, finding.severity)
        if key not in groups:
            groups[key] = Group(finding.code, finding.slug, finding.severity.value,
                                finding.op or "", finding.fix, finding.message)
        if finding.node:
            groups[key].nodes.append(finding.node)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(groups.values(), key=lambda g: (order[g.severity], -len(g.nodes), g.code))


def verdict_line(name: str, report: Diagnosis) -> str:
    parts = report.partitions
    where = ""
    if parts is not None:
        where = (f"; runs {parts.supported}/{parts.nodes} nodes in {parts.count} partition"
                 f"{'s' if parts.count != 1 else ''} (largest {parts.largest})")
    if report.convertible:
        return f"{name}: takes the model{where}"
    blocked = len({f.node for f in report.blockers})
    return f"{name}: BLOCKED by {len(report.blockers)} finding(s) on {blocked} node(s){where}"


# --- text --------------------------------------------------------------------------


def print_text(result: DiagnosisSet, out: Console) -> None:
    opset = f", min opset {result.min_opset}" if result.min_opset is not None else ""
    out.print(f"[bold]{result.model}[/]: {result.nodes} nodes{opset}")
    if len(result.reports) > 1:
        out.print(matrix_table(result))
    for name, report in result.reports.items():
        style = "green" if report.convertible else "red"
        out.print(f"\n[{style}]{verdict_line(name, report)}[/]")
        for group in group_findings(report.findings):
            # One block per group: long reasons wrap badly in table cells.
            color = {"error": "red", "warning": "yellow"}.get(group.severity, "dim")
            fix = f"  fix: [bold]{group.fix}[/]" if group.fix else ""
            out.print(f"  [{color}]{group.code} {group.slug}[/]  {group.op}{fix}", markup=True)
            count = f"{len(group.nodes)}x " if len(group.nodes) > 1 else ""
            out.print(f"    nodes: {count}{group.node_list}", markup=False)
            out.print(f"    why:   {group.example}", markup=False)


def matrix_table(result: DiagnosisSet) -> Table:
    """Op types x targets: how many nodes of each op each target blocks."""
    names = list(result.reports)
    blocked = {name: Counter(f.op for f in report.blockers)
               for name, report in result.reports.items()}
    ops = sorted({op for counts in blocked.values() for op in counts if op})
    table = Table("op", *names, title="blocked nodes per op", box=None)
    for op in ops:
        table.add_row(op, *[str(blocked[n][op]) if blocked[n][op] else "ok" for n in names])
    table.add_row("verdict", *["ok" if result.reports[n].convertible else "BLOCKED" for n in names])
    return table


# --- markdown ----------------------------------------------------------------------


def render_markdown(result: DiagnosisSet) -> str:
    lines = [f"# {result.model}", "", f"{result.nodes} nodes; minimum opset: "
             f"{result.min_opset if result.min_opset is not None else 'unknown'}", ""]
    for name, report in result.reports.items():
        lines += [f"## {name}", "", verdict_line(name, report), ""]
        groups = group_findings(report.findings)
        if not groups:
            continue
        lines += ["| code | op | nodes | why | fix |", "| --- | --- | --- | --- | --- |"]
        for group in groups:
            cells = [f"{group.code} {group.slug}", group.op,
                     f"{len(group.nodes)}: {group.node_list}", group.example, group.fix or ""]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- html --------------------------------------------------------------------------

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.ok { color: #17692b; } .blocked { color: #a4161a; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { text-align: left; vertical-align: top; padding: .3em .6em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; } code { font-size: .95em; }
.error { border-left: 4px solid #a4161a; } .warning { border-left: 4px solid #c98a00; }
.info { border-left: 4px solid #888; }
"""


def render_html(result: DiagnosisSet) -> str:
    esc = html.escape
    body = [f"<h1>{esc(result.model)}</h1>",
            f"<p>{result.nodes} nodes; minimum opset: "
            f"{result.min_opset if result.min_opset is not None else 'unknown'}</p>"]
    for name, report in result.reports.items():
        css = "ok" if report.convertible else "blocked"
        body.append(f"<h2>{esc(name)}</h2><p class='{css}'>{esc(verdict_line(name, report))}</p>")
        groups = group_findings(report.findings)
        if not groups:
            continue
        rows = "".join(
            f"<tr class='{g.severity}'><td><code>{esc(g.code)}</code> {esc(g.slug)}</td>"
            f"<td>{esc(g.op)}</td><td>{len(g.nodes)}: {esc(', '.join(g.nodes))}</td>"
            f"<td>{esc(g.example)}</td><td>{esc(g.fix or '')}</td></tr>"
            for g in groups)
        body.append("<table><tr><th>code</th><th>op</th><th>nodes</th><th>why</th>"
                    f"<th>fix</th></tr>{rows}</table>")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>graphkit diagnose: {esc(result.model)}</title><style>{CSS}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")
