"""Can ONNX Runtime's CPU execution provider run this node, as the installed onnxruntime ships it?

Support is read live from the installed onnxruntime (graphkit._ort_registry): its operator
schemas (which version of an op a model's opset selects, and which type parameter each
input and output binds) and its CPU kernel registry (op, domain, version range, allowed
types).
A node runs when a kernel matches its op version and its inferred types the way
onnxruntime matches them; failing that, when the op has an ONNX function body that
runs (onnxruntime inlines it); Constant needs no kernel (it becomes an initializer).
A node a kernel takes is then checked against the limits the registry does not state
(opsets/ort.toml: RNN layouts, per-channel zero points, ...).

"Convertible" here means: onnxruntime creates a CPU session for the model as it is (no
conversion happens) and runs it. A value-dependent failure that no shape, type or
attribute reveals can still surface only at run time.
"""

from __future__ import annotations

from collections.abc import Mapping

import onnx_ir as ir

from graphkit._ort_registry import Formal, Kernel, OrtRegistry, Schema, ort_registry
from graphkit.findings import Finding, Severity
from graphkit.passes.decompose import REPLACEMENT_MIN_OPSET
from graphkit.targets import _schema_functions
from graphkit.targets._data import load_target_data
from graphkit.targets._table import TableTarget
from graphkit.targets.base import NodeContext, ValueFacts

FIX_FOR_DTYPE = {"double": "float64-to-float32", "int64": "int64-to-int32"}


class OrtTarget:
    name = "ort"
    description = "ONNX Runtime CPU execution provider (the installed onnxruntime)"

    def __init__(self, registry: OrtRegistry | None = None) -> None:
        self.registry = registry or ort_registry()
        self.limits = TableTarget(load_target_data("ort"), name=self.name,
                                  label=f"onnxruntime {self.registry.version}")

    def opset_range(self) -> tuple[int, int]:
        return (1, self.registry.max_opset.get("", 1))

    def check_model(self, model: ir.Model) -> list[Finding]:
        low, high = self.opset_range()
        opset = model.opset_imports.get("", low)
        if low <= opset <= high:
            return []
        return [Finding(
            "GK103", Severity.ERROR,
            f"the model imports ai.onnx opset {opset}; onnxruntime {self.registry.version} "
            f"knows opsets {low} to {high}",
            fix="convert-opset", target=self.name,
        )]

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        if ctx.is_local_function(node):
            return []  # onnxruntime inlines model-local functions; the driver checks the body
        domain = "" if node.domain == "ai.onnx" else node.domain
        if domain == "" and node.op_type == "Constant":
            return []
        opset = ctx.domain_version(domain)
        if opset is None:
            return [self._finding("GK102", node, f"the model does not import domain '{domain}'")]
        schema = self.registry.schema(domain, node.op_type, opset)
        if schema is None:
            return [self._unknown_op(node, domain, opset)]
        kernels = self.registry.kernels_for(domain, node.op_type, schema.since)
        bound = bind_types(node, schema, ctx.values)
        if _any_accepts(kernels, bound) or _any_accepts(kernels, _float16_as_float(bound)):
            return self.limits.check_node(node, ctx)
        body = self._check_function_body(node, ctx, domain, opset)
        if body is not None:
            return body
        if not kernels:
            return [self._no_kernel(node, domain, schema)]
        return [self._type_mismatch(node, schema, kernels, bound, ctx.values)]

    def _check_function_body(self, node, ctx, domain, opset) -> list[Finding] | None:
        """Findings of the op's ONNX function body (None: the op has no usable body)."""
        body = _schema_functions.expand(node, domain, opset, ctx.values)
        if body is None:
            return None
        inner_findings = [f for inner, inner_ctx in body.sites(ctx)
                          for f in self.check_node(inner, inner_ctx)]
        if not inner_findings:
            return []
        first = inner_findings[0]
        more = f" (and {len(inner_findings) - 1} more)" if len(inner_findings) > 1 else ""
        return [self._finding(
            first.code, node,
            f"no CPU kernel for {node.op_type} with these types, and its function body "
            f"does not run: {first.op}: {first.message}{more}",
            fix=first.fix,
        )]

    def _unknown_op(self, node: ir.Node, domain: str, opset: int) -> Finding:
        versions = [s.since for s in self.registry.schemas.get((domain, node.op_type), ())]
        label = domain or "ai.onnx"
        if versions:
            return self._finding(
                "GK101", node,
                f"{node.op_type} first appears in {label} opset {versions[0]}; "
                f"the model imports opset {opset}",
                fix="convert-opset",
            )
        if not any(key[0] == domain for key in self.registry.schemas):
            return self._finding("GK102", node, f"onnxruntime does not know domain '{label}'")
        return self._finding("GK101", node, f"onnxruntime has no op {node.op_type} in {label}")

    def _no_kernel(self, node: ir.Node, domain: str, schema: Schema) -> Finding:
        label = f"{node.op_type}-{schema.since}" + (f" ({domain})" if domain else "")
        if schema.deprecated:
            why = f"{label} is deprecated and has no CPU kernel"
        else:
            why = f"onnxruntime {self.registry.version} has no CPU kernel for {label}"
        others = sorted({k.start for k in self.registry.kernels.get((domain, node.op_type), ())})
        if others:
            return self._finding(
                "GK101", node, f"{why} (kernels exist from opsets {others})", fix="convert-opset"
            )
        return self._finding("GK101", node, why, fix=_decompose_fix(node, domain))

    def _type_mismatch(self, node, schema, kernels, bound, values: ValueFacts) -> Finding:
        for key, actual in bound.items():
            allowed = set().union(*(k.constraints.get(key, ()) for k in kernels))
            if not allowed or actual in allowed:
                continue
            where = _describe_binding(node, schema, key)
            dtype = actual.removeprefix("tensor(").removesuffix(")")
            code = {"int64": "GK201", "double": "GK202"}.get(dtype, "GK203")
            return self._finding(
                code, node,
                f"{where} is {actual}, but the CPU kernel for {node.op_type}-{schema.since} "
                f"takes {key} in {{{', '.join(sorted(_short(t) for t in allowed))}}}",
                fix=FIX_FOR_DTYPE.get(dtype),
            )
        combo = ", ".join(f"{k}={_short(v)}" for k, v in sorted(bound.items()))
        return self._finding(
            "GK203", node,
            f"no CPU kernel for {node.op_type}-{schema.since} takes this combination: {combo}",
        )

    def _finding(self, code: str, node: ir.Node, message: str, fix: str | None = None) -> Finding:
        return Finding(code, Severity.ERROR, message, node=node.name, op=node.op_type,
                       fix=fix, target=self.name)


def _decompose_fix(node: ir.Node, domain: str) -> str | None:
    """'decompose' when that pass knows how to rewrite this op into others."""
    return "decompose" if domain == "" and node.op_type in REPLACEMENT_MIN_OPSET else None


def _any_accepts(kernels: list[Kernel], bound: Mapping[str, str]) -> bool:
    return any(kernel.rejects(bound) is None for kernel in kernels)


def _float16_as_float(bound: Mapping[str, str]) -> dict[str, str]:
    """onnxruntime runs a float16 node without a float16 CPU kernel in float32, between
    casts it inserts (its InsertCastTransformer), when a float kernel exists."""
    return {key: "tensor(float)" if value == "tensor(float16)" else value
            for key, value in bound.items()}


def bind_types(node: ir.Node, schema: Schema, values: ValueFacts) -> dict[str, str]:
    """Type parameter (and formal name) -> the type string of the first value bound to it."""
    bound: dict[str, str] = {}
    for args, formals in ((node.inputs, schema.inputs), (node.outputs, schema.outputs)):
        for formal, value in _pair(args, formals):
            found = type_string(values.type(value))
            if found is None:
                continue
            bound.setdefault(formal.type_str, found)
            bound.setdefault(formal.name, found)
    return bound


def _pair(args, formals: tuple[Formal, ...]):
    """(formal, value) for each present argument; a variadic last formal takes the rest."""
    for index, value in enumerate(args):
        if index < len(formals):
            formal = formals[index]
        elif formals and formals[-1].variadic:
            formal = formals[-1]
        else:
            return
        if value is not None and value.name:
            yield formal, value


def type_string(found: ir.TypeProtocol | None) -> str | None:
    """onnxruntime's spelling of a type: tensor(float), seq(tensor(int64)), optional(...)."""
    if found is None:
        return None
    if isinstance(found, ir.TensorType):
        return f"tensor({found.dtype.name.lower()})"
    if isinstance(found, ir.SequenceType):
        inner = type_string(found.elem_type)
        return f"seq({inner})" if inner else None
    if isinstance(found, ir.OptionalType):
        inner = type_string(found.elem_type)
        return f"optional({inner})" if inner else None
    return None


def _describe_binding(node: ir.Node, schema: Schema, key: str) -> str:
    for kind, args, formals in (("input", node.inputs, schema.inputs),
                                ("output", node.outputs, schema.outputs)):
        for formal, value in _pair(args, formals):
            if key in (formal.type_str, formal.name):
                return f"{kind} '{value.name}' ({formal.name})"
    return f"type {key}"


def _short(type_str: str) -> str:
    if type_str.count("(") != 1:
        return type_str
    return type_str.removeprefix("tensor(").removesuffix(")")
