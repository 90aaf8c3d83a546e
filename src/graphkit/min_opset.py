"""What is the lowest ai.onnx opset at which each node, and the model, is valid?

A node as written is valid at a schema version when the schema (from onnx.defs, live)
knows every attribute it sets, has every attribute it requires, takes the inputs and
outputs it has in the positions it has them, and allows its dtypes. Versions before 7
with a `broadcast` attribute count only when all input shapes are known and equal (they
did not broadcast). Per node this gives a set of opset ranges; the model is valid at
their intersection (`as_written`).

`reachable` is how low conversion can take it: `convert-opset` moves a node down to an
older schema where the inputs that the old schema had as attributes (same name: Squeeze
axes, Split split, Reduce* axes, Clip min/max, ...) are constants and every attribute it
sets exists there or has its default; `lift-constants` makes Constant nodes initializers;
`decompose` replaces an op by older ops, at the opsets
`graphkit.passes.decompose.REPLACEMENT_MIN_OPSET` declares (read from that pass, so the
two cannot disagree: hence this module sits above the passes, beside diagnose).
Conversion upwards is assumed possible for every node.
Nodes outside ai.onnx (other domains, local functions) are not counted.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import onnx
import onnx_ir as ir

from graphkit.findings import Finding, Severity
from graphkit.passes.decompose import REPLACEMENT_MIN_OPSET
from graphkit.targets._data import load_target_data
from graphkit.targets._predicates import schema_default
from graphkit.targets.base import ValueFacts

Ranges = tuple[tuple[int, int], ...]
LATEST = onnx.defs.onnx_opset_version()
# input name in a newer schema -> attribute name in an older one, where they differ.
ATTRIBUTE_ALIASES = {("Pad", "constant_value"): "value", ("TopK", "K"): "k"}


@dataclass(frozen=True)
class Signature:
    """What about a node decides its validity: the cache key (many nodes share one)."""

    op: str
    attrs: frozenset[str]
    default_attrs: frozenset[str]  # attributes set to their schema default (droppable)
    inputs: tuple[bool, ...]  # given (True) or left empty, by position
    constant_inputs: frozenset[int]
    outputs: int
    input_types: tuple[str | None, ...]  # 'tensor(float)' ..., None where unknown
    output_types: tuple[str | None, ...]
    same_shapes: bool  # every input shape known and equal (pre-7 broadcasting)


@functools.cache
def _history() -> Mapping[str, tuple[onnx.defs.OpSchema, ...]]:
    """ai.onnx op -> its schema versions, oldest first."""
    found: dict[str, list[onnx.defs.OpSchema]] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain == "":
            found.setdefault(schema.name, []).append(schema)
    return {op: tuple(sorted(s, key=lambda x: x.since_version)) for op, s in found.items()}


def _spans(op: str) -> list[tuple[onnx.defs.OpSchema, int, int]]:
    """Each schema version with the opsets it covers."""
    versions = _history().get(op, ())
    ends = [s.since_version - 1 for s in versions[1:]] + [LATEST]
    return list(zip(versions, [s.since_version for s in versions], ends, strict=True))


def _type_ok(formal: Any, schema: onnx.defs.OpSchema, type_str: str | None) -> bool:
    if type_str is None:
        return True
    allowed = {c.type_param_str: c.allowed_type_strs for c in schema.type_constraints}
    options = allowed.get(formal.type_str, [formal.type_str])
    return type_str in options


def _formal(params: list[Any], index: int) -> Any | None:
    if index < len(params):
        return params[index]
    last = params[-1] if params else None
    return last if last is not None and last.option.name == "Variadic" else None


def _ports_fit(
    params: list[Any],
    given: Iterable[bool],
    types: tuple[str | None, ...],
    schema: onnx.defs.OpSchema,
    required: int,
) -> bool:
    given = list(given)
    if sum(given) < required and len(given) < required:
        return False
    for index, present in enumerate(given):
        formal = _formal(params, index)
        if formal is None:
            return False
        if not present and formal.option.name != "Optional":
            return False
        if present and not _type_ok(formal, schema, types[index] if index < len(types) else None):
            return False
    return True


def _valid(sig: Signature, schema: onnx.defs.OpSchema, moved: frozenset[int] = frozenset()) -> bool:
    """The node (with the inputs in `moved` turned into attributes) fits this schema."""
    if schema.deprecated:
        return False
    inputs = [g for i, g in enumerate(sig.inputs) if i not in moved]
    while inputs and not inputs[-1]:
        inputs.pop()
    have = sig.attrs | {_input_attr(sig.op, schema, i) for i in moved}
    if not have <= set(schema.attributes):
        return False
    if any(a.required and name not in have for name, a in schema.attributes.items()):
        return False
    if "broadcast" in schema.attributes and not sig.same_shapes:
        return False
    types = tuple(t for i, t in enumerate(sig.input_types) if i not in moved)
    if not _ports_fit(list(schema.inputs), inputs, types, schema, schema.min_input):
        return False
    outputs = [True] * sig.outputs
    return _ports_fit(list(schema.outputs), outputs, sig.output_types, schema, schema.min_output)


def _input_attr(op: str, newer_or_older: onnx.defs.OpSchema, index: int) -> str:
    """The attribute an older schema has for input `index` of the newest schema."""
    newest = _history()[op][-1]
    name = newest.inputs[index].name if index < len(newest.inputs) else f"#{index}"
    return ATTRIBUTE_ALIASES.get((op, name), name)


def _merge(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


@functools.cache
def valid_ranges(sig: Signature) -> Ranges:
    """The opsets at which the node as written is valid."""
    return _merge([(low, high) for schema, low, high in _spans(sig.op) if _valid(sig, schema)])


@functools.cache
def reachable_floor(sig: Signature) -> int | None:
    """The lowest opset `convert-opset` or `decompose` can bring the node to."""
    floors = []
    written = valid_ranges(sig)
    if written:
        floors.append(written[0][0])
    droppable = sig.default_attrs
    light = dataclasses.replace(sig, attrs=sig.attrs - droppable)
    for schema, low, _ in _spans(sig.op):
        moved = frozenset(
            i for i in sig.constant_inputs if _input_attr(sig.op, schema, i) in schema.attributes
        )
        if _valid(light, schema, moved):
            floors.append(low)
            break
    if sig.op == "Constant":
        floors.append(1)  # lift-constants turns it into an initializer, valid at any opset
    replacement = REPLACEMENT_MIN_OPSET.get(sig.op)
    if replacement is not None:
        floors.append(replacement)
    return min(floors) if floors else None


# ---- from nodes and models ----


def _type_str(type_: ir.TypeProtocol | None) -> str | None:
    if type_ is None:
        return None
    if isinstance(type_, ir.TensorType):
        return f"tensor({type_.dtype.name.lower()})"
    inner = _type_str(getattr(type_, "elem_type", None))
    if inner is None:
        return None
    kind = "seq" if isinstance(type_, ir.SequenceType) else "optional"
    return f"{kind}({inner})"


def _output_type(node: ir.Node, value: ir.Value, values: ValueFacts) -> str | None:
    found = _type_str(values.type(value))
    if found is None and node.op_type == "Constant" and "value" in node.attributes:
        # a Constant's output is typed by its tensor even where inference has not run
        tensor = node.attributes["value"].value
        if isinstance(tensor, ir.TensorProtocol):  # a hostile file may give it an int
            return f"tensor({tensor.dtype.name.lower()})"
    return found


def _given(value: ir.Value | None) -> bool:
    return value is not None and value.name != ""


def _same_shapes(node: ir.Node, values: ValueFacts) -> bool:
    shapes = [values.shape(v) for v in node.inputs if _given(v)]
    known = all(s is not None and all(isinstance(d, int) for d in s) for s in shapes)
    return known and len(set(shapes)) <= 1


def _defaults(node: ir.Node, opset: int) -> frozenset[str]:
    same = set()
    for name, attr in node.attributes.items():
        value = attr.value
        value = tuple(value) if isinstance(value, list) else value
        if value == schema_default(node.op_type, "", opset, name):
            same.add(name)
    return frozenset(same)


def signature(node: ir.Node, opset: int, values: ValueFacts) -> Signature:
    """The facts about `node` that decide at which opsets it is valid."""
    return Signature(
        op=node.op_type,
        attrs=frozenset(node.attributes),
        default_attrs=_defaults(node, opset),
        inputs=tuple(_given(v) for v in node.inputs),
        constant_inputs=frozenset(i for i, v in enumerate(node.inputs) if values.is_constant(v)),
        outputs=len(node.outputs),
        input_types=tuple(_type_str(values.type(v)) if _given(v) else None for v in node.inputs),
        output_types=tuple(_output_type(node, v, values) for v in node.outputs),
        same_shapes=_same_shapes(node, values),
    )


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out = []
    for low_a, high_a in a:
        for low_b, high_b in b:
            low, high = max(low_a, low_b), min(high_a, high_b)
            if low <= high:
                out.append((low, high))
    return tuple(out)


def onnx_nodes(model: ir.Model) -> Iterable[ir.Node]:
    """ai.onnx nodes of the main graph and of every subgraph in it."""
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        if node.domain in ("", "ai.onnx") and node.op_type in _history():
            yield node


@dataclass(frozen=True)
class NodeOpset:
    node: ir.Node
    ranges: Ranges  # opsets where the node as written is valid
    reachable: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node.name,
            "op": self.node.op_type,
            "min": self.ranges[0][0] if self.ranges else None,
            "max": self.ranges[-1][1] if self.ranges else None,
            "reachable": self.reachable,
        }


def node_opsets(model: ir.Model, values: ValueFacts | None = None) -> list[NodeOpset]:
    """Per ai.onnx node: where it is valid as written, and how low conversion takes it."""
    values = values or ValueFacts()
    opset = model.opset_imports.get("", LATEST)
    found = []
    for node in onnx_nodes(model):
        sig = signature(node, opset, values)
        found.append(NodeOpset(node, valid_ranges(sig), reachable_floor(sig)))
    return found


def target_ranges() -> dict[str, tuple[int, int]]:
    """The opset range of every target whose facts are a table under opsets/."""
    ranges: dict[str, tuple[int, int]] = {}
    for name in ("tensorrt", "tflite", "ort-nnapi", "ort-coreml", "ort-coreml-mlprogram"):
        data = load_target_data(name)
        ranges[name] = data.opset
        for version, span in data.version_opsets.items():
            if version != data.default_version:
                ranges[f"{name}@{version}"] = span
    return ranges


def verdict(
    declared: int | None, written: Ranges, reachable: int | None, span: tuple[int, int]
) -> dict[str, Any]:
    """ok: the model is valid inside the target's range at its declared opset; convert: a
    conversion (convert-opset, decompose) brings it inside; blocked: it cannot get that low."""
    low, high = span
    result: dict[str, Any] = {"range": [low, high]}
    if declared is not None and low <= declared <= high and _intersect(written, ((declared,) * 2,)):
        return {**result, "verdict": "ok"}
    if _intersect(written, ((low, high),)):
        return {**result, "verdict": "convert", "fix": "convert-opset"}
    if reachable is not None and reachable <= high:
        return {**result, "verdict": "convert", "fix": "decompose,convert-opset"}
    need = f"needs opset >= {reachable}" if reachable is not None else "no valid opset"
    return {**result, "verdict": "blocked", "why": f"{need}; the target accepts {low}..{high}"}


def model_min_opset(
    model: ir.Model,
    values: ValueFacts | None = None,
    ranges: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The diagnose JSON's `min_opset`: as written, reachable, per node, per target."""
    nodes = node_opsets(model, values)
    written: Ranges = ((1, LATEST),)
    for found in nodes:
        written = _intersect(written, found.ranges)
    floors = [n.reachable for n in nodes if n.reachable is not None]
    reachable = max(floors, default=1) if len(floors) == len(nodes) else None
    declared = model.opset_imports.get("")
    spans = target_ranges() if ranges is None else ranges
    return {
        "declared": declared,
        "as_written": written[0][0] if written else None,
        "as_written_max": written[-1][1] if written else None,
        "reachable": reachable,
        "per_node": [n.to_json() for n in nodes],
        "targets": {
            name: verdict(declared, written, reachable, span) for name, span in spans.items()
        },
    }


def min_opset_findings(model: ir.Model, values: ValueFacts | None = None) -> list[Finding]:
    """GK401 per node where it matters: the nodes that set the model's floor (info), and
    nodes not valid at the model's declared opset (warning)."""
    nodes = node_opsets(model, values)
    declared = model.opset_imports.get("")
    floor = max((n.ranges[0][0] for n in nodes if n.ranges), default=None)
    findings = []
    for found in nodes:
        spans = ", ".join(f"{lo}..{hi}" for lo, hi in found.ranges) or "none"
        reach = f"; conversion reaches {found.reachable}" if found.reachable is not None else ""
        if declared is not None and not _intersect(found.ranges, ((declared, declared),)):
            message = (
                f"not valid at the model's opset {declared} as written (valid: {spans}){reach}"
            )
            findings.append(_gk401(found.node, Severity.WARNING, message, "convert-opset"))
        elif found.ranges and found.ranges[0][0] == floor:
            message = f"needs opset >= {floor} as written (valid: {spans}){reach}"
            findings.append(_gk401(found.node, Severity.INFO, message, None))
    return findings


def _gk401(node: ir.Node, severity: Severity, message: str, fix: str | None) -> Finding:
    return Finding("GK401", severity, message, node=node.name, op=node.op_type, fix=fix)
