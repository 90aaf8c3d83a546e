"""The one loader for per-target facts: opsets/<target>.toml -> TargetData, validated.

Schema (every TOML file under opsets/ repeats it in its header):

    [target]
    name = "tensorrt"                # as typed after --target
    description = "..."              # one line
    source = "..."                   # where the facts come from, with versions
    opset = [9, 24]                  # ai.onnx opsets accepted, inclusive
    unlisted = "unsupported"         # an op missing from the table: "unsupported" (GK101
                                     #   error), "fallback" (runs elsewhere: GK108 warning) or
                                     #   "registry" (an overlay: something else, e.g. ORT's
                                     #   live kernel registry, decides; `opset` may be left out)
    default_version = "10.15"        # optional: versions of the target this table covers
    static_shapes = false            # optional: the target needs every shape static
    [target.versions."10.1"]         # optional, one table per extra version
    opset = [9, 20]

    [[dtype_rule]]                   # optional: how a dtype outside an op's list is reported
    dtype = "float64"; severity = "warning"; code = "GK202"; fix = "float64-to-float32"
    message = "..."

    [[op]]
    op = "Resize"                    # required
    domain = "ai.onnx"               # default ai.onnx
    versions = ["10.15"]             # default: every version of the target
    opset = [11, 24]                 # default: every opset; the entry applies inside it
    status = "supported"             # supported | unsupported | flex
    dtypes = ["float32", "float16"]  # default: any; checked on dtype_inputs
    dtype_inputs = [0]               # default [0]
    tflite = ["RESIZE_BILINEAR"]     # tflite only: the builtins it lowers to
    flex = ["Einsum"]                # tflite only: the TF ops a Flex lowering needs
    fix = "decompose"                # for status unsupported or flex: the pass that
                                     #   rewrites the op away (fold-constants: offered only
                                     #   when the node's inputs are constants)
    code = "GK109"                   # for status unsupported: overrides GK101
    message = "..."                  # for status unsupported/flex: the reason
    checks = [ { kind = "attr-in", attr = "mode", values = ["nearest", "linear"] }, ... ]

Each check names a predicate (graphkit.targets._predicates) and its arguments; the keys
every check may carry are `kind`, `when` (attr -> value: the check applies only then),
`message`, `fix`, `code` and `severity`. Any key not in the schema is an error that names
the file and the entry, so a typo never silently disables a check.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field
from typing import Any

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.findings import CODES

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

# dtype names used in the tables -> the IR dtypes they stand for.
DTYPES: dict[str, tuple[ir.DataType, ...]] = {
    "float32": (ir.DataType.FLOAT,),
    "float16": (ir.DataType.FLOAT16,),
    "bfloat16": (ir.DataType.BFLOAT16,),
    "float64": (ir.DataType.DOUBLE,),
    "float8": (
        ir.DataType.FLOAT8E4M3FN,
        ir.DataType.FLOAT8E4M3FNUZ,
        ir.DataType.FLOAT8E5M2,
        ir.DataType.FLOAT8E5M2FNUZ,
    ),
    "float4": (ir.DataType.FLOAT4E2M1,),
    "int4": (ir.DataType.INT4,),
    "uint4": (ir.DataType.UINT4,),
    "int8": (ir.DataType.INT8,),
    "uint8": (ir.DataType.UINT8,),
    "int16": (ir.DataType.INT16,),
    "uint16": (ir.DataType.UINT16,),
    "int32": (ir.DataType.INT32,),
    "uint32": (ir.DataType.UINT32,),
    "int64": (ir.DataType.INT64,),
    "uint64": (ir.DataType.UINT64,),
    "bool": (ir.DataType.BOOL,),
    "string": (ir.DataType.STRING,),
    "complex64": (ir.DataType.COMPLEX64,),
    "complex128": (ir.DataType.COMPLEX128,),
}

COMMON_CHECK_KEYS = frozenset({"kind", "when", "message", "fix", "code", "severity"})

# check kind -> (required keys, optional keys) besides the common ones.
CHECK_KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "attr-in": (frozenset({"attr", "values"}), frozenset()),
    "attr-all-in": (frozenset({"attr", "values"}), frozenset()),
    "attr-absent": (frozenset({"attrs"}), frozenset()),
    "attr-given": (frozenset({"attr"}), frozenset({"min"})),
    "const-input": (frozenset({"inputs"}), frozenset({"unless_dtypes", "dtypes", "run_time"})),
    "input-absent": (frozenset({"inputs"}), frozenset()),
    "input-present": (frozenset({"inputs"}), frozenset()),
    "input-zero": (frozenset({"inputs"}), frozenset()),
    "input-nonneg": (frozenset({"inputs"}), frozenset()),
    "input-max": (frozenset({"input", "max"}), frozenset()),
    "output-unused": (frozenset({"outputs"}), frozenset()),
    "rank": (frozenset({"inputs"}), frozenset({"min", "max"})),
    "dtype": (frozenset({"inputs", "dtypes"}), frozenset()),
    "static-shape": (frozenset({"inputs"}), frozenset()),
    "static-axis-dim": (frozenset({"input", "attr"}), frozenset()),
    "pads-symmetric": (frozenset(), frozenset()),
    "same-direction-activations": (frozenset(), frozenset()),
    "split-even": (frozenset(), frozenset()),
    "pad-last-two-dims": (frozenset(), frozenset()),
    "slope-per-channel": (frozenset(), frozenset()),
    "one-element": (frozenset({"inputs"}), frozenset()),
    "empty-reduction": (frozenset(), frozenset({"dtypes"})),
    "attention-mask-length": (frozenset(), frozenset()),
    "locale-available": (frozenset({"default"}), frozenset()),
    "input-given": (frozenset({"inputs"}), frozenset()),
    "output-used": (frozenset({"outputs"}), frozenset()),
    "resize-downsamples": (frozenset(), frozenset()),
    "resize-spatial-only": (frozenset(), frozenset({"scales", "sizes"})),
    "padded": (frozenset(), frozenset()),
    "symmetric-weight": (frozenset({"inputs"}), frozenset()),
    "never": (frozenset({"message"}), frozenset()),
    "note": (frozenset({"message"}), frozenset()),
}

TARGET_KEYS = frozenset(
    {
        "name",
        "description",
        "source",
        "opset",
        "unlisted",
        "default_version",
        "static_shapes",
        "versions",
    }
)
OP_KEYS = frozenset(
    {
        "op",
        "domain",
        "versions",
        "opset",
        "status",
        "dtypes",
        "dtype_inputs",
        "tflite",
        "flex",
        "fix",
        "code",
        "message",
        "checks",
    }
)
DTYPE_RULE_KEYS = frozenset({"dtype", "severity", "code", "fix", "message"})
STATUSES = frozenset({"supported", "unsupported", "flex"})
UNLISTED = ("unsupported", "fallback", "registry")
ANY_OPSET = (1, 2**31 - 1)  # an overlay's range: the registry under it sets the real one
SEVERITIES = frozenset({"error", "warning", "info"})


@dataclass(frozen=True)
class OpCheck:
    """One [[op.checks]] row of a target's table: a predicate kind (PREDICATES) and its keys."""

    kind: str
    args: dict[str, Any]  # the kind's own keys (attr, values, inputs, ...)
    when: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    fix: str | None = None
    code: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class OpEntry:
    op: str
    domain: str = "ai.onnx"
    versions: tuple[str, ...] = ()  # empty: every version
    opset: tuple[int, int] | None = None
    status: str = "supported"
    dtypes: frozenset[ir.DataType] | None = None
    dtype_names: tuple[str, ...] = ()
    dtype_inputs: tuple[int, ...] = (0,)
    tflite: tuple[str, ...] = ()
    flex: tuple[str, ...] = ()
    fix: str | None = None
    code: str | None = None
    message: str | None = None
    checks: tuple[OpCheck, ...] = ()


@dataclass(frozen=True)
class DtypeRule:
    dtype: str
    severity: str
    code: str
    fix: str | None
    message: str


@dataclass(frozen=True)
class TargetData:
    name: str
    description: str
    source: str
    opset: tuple[int, int]
    unlisted: str
    default_version: str | None
    version_opsets: dict[str, tuple[int, int]]  # every version, the default included
    static_shapes: bool
    dtype_rules: tuple[DtypeRule, ...]
    ops: tuple[OpEntry, ...]


class _Where:
    """Names the file and the entry in every error, so a bad table is fixed in one look."""

    def __init__(self, file: str, entry: str = "") -> None:
        self.file, self.entry = file, entry

    def at(self, entry: str) -> _Where:
        return _Where(self.file, f"{self.entry} {entry}".strip())

    def fail(self, problem: str) -> InputError:
        where = f"{self.file}: {self.entry}: " if self.entry else f"{self.file}: "
        return InputError(where + problem)

    def keys(self, table: dict[str, Any], allowed: frozenset[str], required=frozenset()) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(f"unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")
        missing = sorted(set(required) - set(table))
        if missing:
            raise self.fail(f"missing key '{missing[0]}'")


def _opset_range(value: Any, where: _Where) -> tuple[int, int]:
    ok = isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
    if not ok or not 1 <= value[0] <= value[1]:
        raise where.fail(f"opset must be [low, high] with 1 <= low <= high, got {value!r}")
    return value[0], value[1]


def _dtype_set(names: Any, where: _Where) -> frozenset[ir.DataType]:
    if not isinstance(names, list):
        raise where.fail(f"dtypes must be a list of names, got {names!r}")
    unknown = [name for name in names if name not in DTYPES]
    if unknown:
        raise where.fail(f"unknown dtype '{unknown[0]}' (known: {', '.join(DTYPES)})")
    return frozenset(dtype for name in names for dtype in DTYPES[name])


def _code(value: Any, where: _Where) -> str:
    if value not in CODES:
        raise where.fail(f"unknown finding code {value!r}")
    return value


def _severity(value: Any, where: _Where) -> str:
    if value not in SEVERITIES:
        raise where.fail(f"severity must be one of {sorted(SEVERITIES)}, got {value!r}")
    return value


def _parse_check(raw: Any, where: _Where) -> OpCheck:
    if not isinstance(raw, dict) or raw.get("kind") not in CHECK_KINDS:
        kind = raw.get("kind") if isinstance(raw, dict) else raw
        raise where.fail(f"unknown check kind {kind!r} (known: {', '.join(CHECK_KINDS)})")
    required, optional = CHECK_KINDS[raw["kind"]]
    where.keys(raw, COMMON_CHECK_KEYS | required | optional, required)
    if "unless_dtypes" in raw:
        _dtype_set(raw["unless_dtypes"], where)
    if "dtypes" in raw:
        _dtype_set(raw["dtypes"], where)
    if "when" in raw and not isinstance(raw["when"], dict):
        raise where.fail("'when' must be a table of attribute -> value")
    own = {k: v for k, v in raw.items() if k not in COMMON_CHECK_KEYS}
    if raw["kind"] in ("never", "note"):
        own["message"] = raw["message"]
    return OpCheck(
        kind=raw["kind"],
        args=own,
        when=dict(raw.get("when", {})),
        message=raw.get("message"),
        fix=raw.get("fix"),
        code=_code(raw["code"], where) if "code" in raw else None,
        severity=_severity(raw["severity"], where) if "severity" in raw else None,
    )


def _parse_op(raw: Any, where: _Where, versions: dict[str, tuple[int, int]]) -> OpEntry:
    if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
        raise where.fail("every [[op]] needs a string 'op'")
    where = where.at(f"op {raw['op']}")
    where.keys(raw, OP_KEYS, {"op"})
    status = raw.get("status", "supported")
    if status not in STATUSES:
        raise where.fail(f"status must be one of {sorted(STATUSES)}, got {status!r}")
    unknown_versions = [v for v in raw.get("versions", []) if v not in versions]
    if unknown_versions:
        raise where.fail(f"unknown target version '{unknown_versions[0]}'")
    checks = raw.get("checks", [])
    return OpEntry(
        op=raw["op"],
        domain=raw.get("domain", "ai.onnx"),
        versions=tuple(raw.get("versions", ())),
        opset=_opset_range(raw["opset"], where) if "opset" in raw else None,
        status=status,
        dtypes=_dtype_set(raw["dtypes"], where) if "dtypes" in raw else None,
        dtype_names=tuple(raw.get("dtypes", ())),
        dtype_inputs=tuple(raw.get("dtype_inputs", (0,))),
        tflite=tuple(raw.get("tflite", ())),
        flex=tuple(raw.get("flex", ())),
        fix=raw.get("fix"),
        code=_code(raw["code"], where) if "code" in raw else None,
        message=raw.get("message"),
        checks=tuple(_parse_check(c, where.at(f"check {i + 1}")) for i, c in enumerate(checks)),
    )


def _parse_dtype_rule(raw: Any, where: _Where) -> DtypeRule:
    where.keys(raw, DTYPE_RULE_KEYS, {"dtype", "severity", "code", "message"})
    _dtype_set([raw["dtype"]], where)
    return DtypeRule(
        dtype=raw["dtype"],
        severity=_severity(raw["severity"], where),
        code=_code(raw["code"], where),
        fix=raw.get("fix"),
        message=raw["message"],
    )


def _parse_versions(target: dict[str, Any], where: _Where) -> dict[str, tuple[int, int]]:
    opset = _opset_range(target["opset"], where)
    default = target.get("default_version")
    versions = {default: opset} if default else {}
    for name, table in target.get("versions", {}).items():
        version_where = where.at(f"versions.{name}")
        version_where.keys(table, frozenset({"opset"}), {"opset"})
        versions[name] = _opset_range(table["opset"], version_where)
    if versions and not default:
        raise where.fail("'versions' needs 'default_version'")
    return versions


def parse_target_data(data: dict[str, Any], file: str) -> TargetData:
    """Validate one parsed TOML document; every error names `file` and the entry."""
    where = _Where(file)
    where.keys(data, frozenset({"target", "op", "dtype_rule"}), {"target"})
    target = data["target"]
    target_where = where.at("[target]")
    overlay = target.get("unlisted") == "registry"
    required = {"name", "description", "source", "unlisted"} | (set() if overlay else {"opset"})
    target_where.keys(target, TARGET_KEYS, required)
    if target["unlisted"] not in UNLISTED:
        raise target_where.fail(f"unlisted must be one of {', '.join(UNLISTED)}")
    if overlay and "opset" not in target:
        target = {**target, "opset": list(ANY_OPSET)}
    versions = _parse_versions(target, target_where)
    ops = tuple(_parse_op(raw, where, versions) for raw in data.get("op", []))
    rules = tuple(
        _parse_dtype_rule(raw, where.at(f"dtype_rule {i + 1}"))
        for i, raw in enumerate(data.get("dtype_rule", []))
    )
    return TargetData(
        name=target["name"],
        description=target["description"],
        source=target["source"],
        opset=_opset_range(target["opset"], target_where),
        unlisted=target["unlisted"],
        default_version=target.get("default_version"),
        version_opsets=versions,
        static_shapes=bool(target.get("static_shapes", False)),
        dtype_rules=rules,
        ops=ops,
    )


@functools.cache
def load_target_data(name: str) -> TargetData:
    """Read and validate opsets/<name>.toml from the installed package (cached: read once)."""
    resource = importlib.resources.files("graphkit.opsets").joinpath(f"{name}.toml")
    file = f"opsets/{name}.toml"
    if not resource.is_file():
        raise InputError(f"{file}: no such target table")
    try:
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{file}: not valid TOML: {error}") from None
    return parse_target_data(data, file)
