"""A target whose facts are a table under opsets/: the engine every table target shares.

Per node: find the table entry for (domain, op) at the node's opset; an op with no entry
is unsupported or falls back (the table's `unlisted`); then check the entry's dtypes and
run its named checks. For `fallback` targets (ONNX Runtime's mobile EPs) a node the EP
will not take is not a conversion failure: the session still runs, with that node on
the CPU EP. Such findings become GK108 warnings that keep the reason and the fix.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import onnx_ir as ir

from graphkit.findings import Finding, Severity
from graphkit.targets._data import DTYPES, OpCheck, OpEntry, TargetData
from graphkit.targets._predicates import DEFAULT_FINDING, PREDICATES, matches_when, node_input
from graphkit.targets.base import NodeContext
from graphkit.targets.checks import GenericChecks, dynamic_input

_DTYPE_NAMES = {dtype: name for name, dtypes in DTYPES.items() for dtype in dtypes}
# fold-constants keeps DequantizeLinear (a quantized weight) unless told otherwise.
DEQUANTIZE_TOO = "fold-constants{dequantize=all}"


def _domain(node: ir.Node) -> str:
    return node.domain or "ai.onnx"


def _dequantized(node: ir.Node, args: dict) -> bool:
    """Whether a DequantizeLinear computes one of the inputs a const-input check names."""
    for index in args["inputs"]:
        value = node_input(node, index)
        producer = value.producer() if value is not None else None
        if producer is not None and producer.op_type == "DequantizeLinear":
            return True
    return False


def _offered_fix(entry: OpEntry, node: ir.Node, ctx: NodeContext) -> str | None:
    """The entry's fix, where it can work on this node: folding removes a node only when
    every input it is given is a constant (a window op of constant length, say); decompose
    is asked for this op only, so that ops the target runs natively are left alone."""
    if entry.fix == "decompose":
        return f"decompose{{ops={node.op_type}}}"
    if entry.fix != "fold-constants":
        return entry.fix
    given = [v for v in node.inputs if v is not None and v.name != ""]
    return entry.fix if all(ctx.values.is_constant(v) for v in given) else None


class TableTarget:
    """Implements graphkit.targets.base.Target from a validated TargetData."""

    def __init__(
        self,
        data: TargetData,
        *,
        version: str | None = None,
        name: str | None = None,
        label: str | None = None,
        generic: GenericChecks | None = None,
    ) -> None:
        version = version or data.default_version
        if data.version_opsets and version not in data.version_opsets:
            known = ", ".join(data.version_opsets)
            raise ValueError(f"{data.name} has no version {version!r}; known: {known}")
        self.data = data
        self.version = version
        self.name = name or data.name
        self.label = label or data.name
        self.description = data.description
        self.static_shapes = data.static_shapes
        self.generic = generic  # target-independent traits this target minds (int64, ...)
        self._entries = self._index(data.ops)
        # A target that runs DequantizeLinear takes DQ(constant) as a quantized weight (the
        # QDQ form); elsewhere the DQ runs apart and its output is no constant to the op.
        self.takes_qdq = any(e.op == "DequantizeLinear" and e.domain == "ai.onnx"
                             and e.status == "supported" for e in data.ops)

    def _index(self, ops: tuple[OpEntry, ...]) -> dict[tuple[str, str], list[OpEntry]]:
        index: dict[tuple[str, str], list[OpEntry]] = defaultdict(list)
        for entry in ops:
            if entry.versions and self.version not in entry.versions:
                continue
            index[(entry.domain, entry.op)].append(entry)
        return dict(index)

    def opset_range(self) -> tuple[int, int]:
        if self.version is None:
            return self.data.opset
        return self.data.version_opsets[self.version]

    @property
    def falls_back(self) -> bool:
        return self.data.unlisted == "fallback"

    def entry_for(self, node: ir.Node, ctx: NodeContext) -> OpEntry | None:
        version = ctx.domain_version(node.domain)
        for entry in self._entries.get((_domain(node), node.op_type), ()):
            if entry.opset is None or version is None:
                return entry
            if entry.opset[0] <= version <= entry.opset[1]:
                return entry
        return None

    def check_model(self, model: ir.Model) -> list[Finding]:
        opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx"))
        low, high = self.opset_range()
        if opset is None or low <= opset <= high:
            return []
        message = f"the model uses ai.onnx opset {opset}; {self.label} accepts {low}..{high}"
        return [self._finding("GK103", Severity.ERROR, message, fix="convert-opset")]

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        if ctx.is_local_function(node):
            return []  # the driver checks the function body node by node
        entry = self.entry_for(node, ctx)
        if entry is None and self.data.unlisted == "registry":
            return []  # an overlay: whatever stands under it decides unlisted ops
        if entry is None:
            return [self._unlisted(node)]
        if entry.status == "unsupported":
            message = entry.message or f"{self.label} has no implementation of {node.op_type}"
            code = entry.code or "GK101"
            fix = _offered_fix(entry, node, ctx)
            return [self._finding(code, Severity.ERROR, message, node, fix=fix)]
        findings = self._check_dtypes(node, entry, ctx)
        findings += [f for check in entry.checks if (f := self._run(check, node, ctx))]
        if entry.status == "flex":
            findings.insert(0, self._flex(node, entry, ctx))
        if self.static_shapes and (why := dynamic_input(node, ctx)):
            findings.append(self._finding("GK301", Severity.ERROR,
                                          f"it takes static shapes only; {why}",
                                          node, "pin-shapes"))
        return findings + self._generic(node, ctx, {f.code for f in findings})

    def _generic(self, node: ir.Node, ctx: NodeContext, seen: set[str]) -> list[Finding]:
        """The generic traits, minus codes the table already reported for this node."""
        if self.generic is None:
            return []
        return [f for f in self.generic.check(node, ctx, self.name) if f.code not in seen]

    def _unlisted(self, node: ir.Node) -> Finding:
        domain = _domain(node)
        if self.falls_back:
            return self._finding(
                "GK108",
                Severity.WARNING,
                f"runs on CPU, not {self.label}: op not in its list",
                node,
            )
        if not any(key[0] == domain for key in self._entries):
            message = f"{self.label} does not know the op domain '{domain}'"
            return self._finding("GK102", Severity.ERROR, message, node)
        message = f"{self.label} has no implementation of {node.op_type}"
        return self._finding("GK101", Severity.ERROR, message, node)

    def _flex(self, node: ir.Node, entry: OpEntry, ctx: NodeContext) -> Finding:
        tf_ops = ", ".join(entry.flex)
        message = entry.message or f"lowers only to TensorFlow ops ({tf_ops}) through Select TF ops"
        return self._finding("GK107", Severity.WARNING, message, node,
                             _offered_fix(entry, node, ctx))

    def _check_dtypes(self, node: ir.Node, entry: OpEntry, ctx: NodeContext) -> list[Finding]:
        if entry.dtypes is None:
            return []
        for index in entry.dtype_inputs:
            value = node_input(node, index)
            found = ctx.values.dtype(value)
            if found is None or found in entry.dtypes:
                continue
            finding = self._dtype_finding(node, index, value, found, entry)
            if node.op_type == "DequantizeLinear" and ctx.values.is_constant(value):
                # A constant of a dtype the target cannot dequantize (an int32 bias for
                # TensorRT) folds into the float constant it stands for.
                fold = f"fold-constants{{dequantize={found.name.lower()}}}"
                finding = dataclasses.replace(finding, fix=finding.fix or fold)
            return [finding]
        return []

    def _dtype_finding(
        self, node: ir.Node, index: int, value: ir.Value | None, found: ir.DataType, entry: OpEntry
    ) -> Finding:
        name = _DTYPE_NAMES.get(found, found.name.lower())
        accepted = ", ".join(entry.dtype_names)
        what = f"input {index} ('{value.name if value else ''}') is {name}; accepted: {accepted}"
        for rule in self.data.dtype_rules:
            if rule.dtype == name:
                severity = Severity(rule.severity)
                return self._finding(
                    rule.code, severity, f"{what} ({rule.message})", node, rule.fix
                )
        code, fix = {
            "int64": ("GK201", "int64-to-int32"),
            "float64": ("GK202", "float64-to-float32"),
        }.get(name, ("GK203", None))
        return self._finding(code, Severity.ERROR, what, node, fix)

    def _run(self, check: OpCheck, node: ir.Node, ctx: NodeContext) -> Finding | None:
        if check.when and not matches_when(node, ctx, check.when):
            return None
        args = {**check.args, "quantized": self.takes_qdq} if check.kind == "const-input" \
            else check.args
        reason = PREDICATES[check.kind](node, ctx, args)
        if reason is None:
            return None
        code, fix = DEFAULT_FINDING.get(check.kind, ("GK104", None))
        if fix == "fold-constants" and not self.takes_qdq and _dequantized(node, args):
            fix = DEQUANTIZE_TOO  # the DequantizeLinear feeding it is to be folded as well
        severity = check.severity or ("warning" if check.kind == "note" else "error")
        if check.message and check.kind not in ("note", "never"):
            reason = f"{check.message} ({reason})"
        return self._finding(check.code or code, Severity(severity), reason, node, check.fix or fix)

    def _finding(
        self,
        code: str,
        severity: Severity,
        message: str,
        node: ir.Node | None = None,
        fix: str | None = None,
    ) -> Finding:
        if self.falls_back and severity is Severity.ERROR and node is not None:
            code, severity = "GK108", Severity.WARNING
            message = f"runs on CPU, not {self.label}: {message}"
        return Finding(
            code=code,
            severity=severity,
            message=message,
            node=node.name if node is not None else None,
            op=node.op_type if node is not None else None,
            fix=fix,
            target=self.name,
        )
