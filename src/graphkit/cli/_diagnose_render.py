"""How a diagnosis reads: repeated findings grouped, as rich text, Markdown or one HTML page."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from graphkit.diagnose import Diagnosis, DiagnosisSet, off_target
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
    """One group per finding code and fix: what one rewrite would resolve reads as one row
    (ops listed together); findings with no fix stay apart per op, since each op's reason
    differs."""
    groups: dict[tuple, Group] = {}
    for finding in findings:
        op = finding.op or ""
        key = (finding.code, finding.fix, finding.severity, op if finding.fix is None else "")
        if key not in groups:
            groups[key] = Group(finding.code, finding.slug, finding.severity.value,
                                op, finding.fix, finding.message)
        elif op and op not in groups[key].op.split(", "):
            groups[key].op += f", {op}"
        if finding.node:
            groups[key].nodes.append(finding.node)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(groups.values(), key=lambda g: (order[g.severity], -len(g.nodes), g.code))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def verdict_line(name: str, report: Diagnosis) -> str:
    """One sentence per target: does it take the model, where does the graph split, and
    whether `graphkit fix` knows a rewrite for every blocker."""
    parts = report.partitions
    if report.fallback and parts is not None:
        return (f"{name}: runs; {parts.supported} of {parts.nodes} top-level nodes on the EP "
                f"in {_plural(parts.count, 'partition')} (largest {parts.largest}), "
                f"the rest on the CPU EP")
    if report.convertible:
        return f"{name}: takes the model as it is"
    blockers = report.blockers
    nodes = len({f.node for f in blockers})
    fixable = sum(f.fix is not None for f in blockers)
    if fixable == len(blockers):
        hint = f"; graphkit fix --target {name} has a rewrite for each"
    else:
        hint = f"; {len(blockers) - fixable} without a known rewrite"
    others = len(report.findings) - len(blockers)
    if others:  # listed below with the blockers: say they are not among them
        hint += f"; {_plural(others, 'more finding')} below {'does' if others == 1 else 'do'} " \
                "not block"
    return f"{name}: BLOCKED by {_plural(len(blockers), 'finding')} on " \
           f"{_plural(nodes, 'node')}{hint}"


def opset_line(result: DiagnosisSet) -> str:
    """The model's opset facts in words ('' when they were not computed)."""
    found = result.min_opset
    if not found:
        return ""
    parts = [f"imports opset {found['declared']}"] if found.get("declared") else []
    if found.get("as_written") is not None:
        parts.append(f"valid as written from opset {found['as_written']}")
    if found.get("reachable") is not None and found["reachable"] != found.get("as_written"):
        parts.append(f"graphkit can convert it down to opset {found['reachable']}")
    return "; ".join(parts)


def facts_line(result: DiagnosisSet) -> str:
    opsets = opset_line(result)
    return _plural(result.nodes, "node") + (f"; {opsets}" if opsets else "")


# --- text --------------------------------------------------------------------------


def print_text(result: DiagnosisSet, out: Console) -> None:
    out.print(f"{result.model}: {facts_line(result)}", style="bold", markup=False)
    if len(result.reports) > 1:
        out.print(matrix_table(result))
    for name, report in result.reports.items():
        style = "green" if report.convertible else "red"
        out.print(f"\n[{style}]{verdict_line(name, report)}[/]")
        for group in group_findings(report.findings):
            # One block per group: long reasons wrap badly in table cells.
            color = {"error": "red", "warning": "yellow"}.get(group.severity, "dim")
            fix = f"  fix: [bold]{group.fix}[/]" if group.fix else ""
            # The severity is spelled out: color alone does not survive logs and pipes.
            head = f"{group.severity:<7} {group.code} {group.slug}"
            out.print(f"  [{color}]{head}[/]  {group.op}{fix}", markup=True)
            count = f"{len(group.nodes)}x " if len(group.nodes) > 1 else ""
            out.print(f"    nodes: {count}{group.node_list}", markup=False)
            out.print(f"    why:   {group.example}", markup=False)


def matrix_table(result: DiagnosisSet) -> Table:
    """Op types x targets: how many nodes of each op each target blocks (or, for an EP
    with CPU fallback, leaves to the CPU)."""
    names, rows = matrix_rows(result)
    table = Table("op", *names, title=MATRIX_TITLE, box=None)
    for row in rows:
        table.add_row(*row)
    return table


MATRIX_TITLE = "nodes a target cannot take, per op"


def matrix_rows(result: DiagnosisSet) -> tuple[list[str], list[list[str]]]:
    """The target names, and one row per op some target cannot take, then the verdicts."""
    names = list(result.reports)
    off = {name: _off_target_per_op(report) for name, report in result.reports.items()}
    ops = sorted({op for counts in off.values() for op in counts if op})
    rows = [[op, *[_cell(result.reports[n], off[n][op]) for n in names]] for op in ops]
    rows.append(["verdict", *[_verdict_cell(result.reports[n]) for n in names]])
    return names, rows


def _off_target_per_op(report: Diagnosis) -> Counter:
    nodes = {(f.node, f.op) for f in report.findings if off_target(f)}
    return Counter(op for _, op in nodes)


def _cell(report: Diagnosis, count: int) -> str:
    if not count:
        return "ok"
    return f"{count} on CPU" if report.fallback else str(count)


def _verdict_cell(report: Diagnosis) -> str:
    if not report.convertible:
        return "BLOCKED"
    return "ok (partitioned)" if report.fallback and _is_split(report) else "ok"


def _is_split(report: Diagnosis) -> bool:
    parts = report.partitions
    return parts is not None and parts.supported < parts.nodes


# --- markdown ----------------------------------------------------------------------


def render_markdown(result: DiagnosisSet) -> str:
    lines = [f"# {result.model}", "", facts_line(result), ""]
    if len(result.reports) > 1:
        names, rows = matrix_rows(result)
        lines += ["| op | " + " | ".join(names) + " |", "| --- " * (len(names) + 1) + "|"]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
    for name, report in result.reports.items():
        lines += [f"## {name}", "", verdict_line(name, report), ""]
        groups = group_findings(report.findings)
        if not groups:
            continue
        lines += ["| severity | code | op | nodes | why | fix |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for group in groups:
            cells = [group.severity, f"{group.code} {group.slug}", group.op,
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


def _html_matrix(result: DiagnosisSet) -> str:
    esc = html.escape
    names, rows = matrix_rows(result)
    head = "".join(f"<th>{esc(n)}</th>" for n in ["op", *names])
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><caption>{MATRIX_TITLE}</caption><tr>{head}</tr>{body}</table>"


def render_html(result: DiagnosisSet) -> str:
    esc = html.escape
    body = [f"<h1>{esc(result.model)}</h1>",
            f"<p>{esc(facts_line(result))}</p>"]
    if len(result.reports) > 1:
        body.append(_html_matrix(result))
    for name, report in result.reports.items():
        css = "ok" if report.convertible else "blocked"
        body.append(f"<h2>{esc(name)}</h2><p class='{css}'>{esc(verdict_line(name, report))}</p>")
        groups = group_findings(report.findings)
        if not groups:
            continue
        rows = "".join(
            f"<tr class='{g.severity}'><td>{esc(g.severity)}</td>"
            f"<td><code>{esc(g.code)}</code> {esc(g.slug)}</td>"
            f"<td>{esc(g.op)}</td><td>{len(g.nodes)}: {esc(', '.join(g.nodes))}</td>"
            f"<td>{esc(g.example)}</td><td>{esc(g.fix or '')}</td></tr>"
            for g in groups)
        body.append("<table><tr><th>severity</th><th>code</th><th>op</th><th>nodes</th><th>why</th>"
                    f"<th>fix</th></tr>{rows}</table>")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>graphkit diagnose: {esc(result.model)}</title><style>{CSS}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")
