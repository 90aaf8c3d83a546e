"""op a target lacks -> the same function in ops it has (Einsum -> MatMul, Gelu -> Erf, ...).

Each decomposition declares the lowest ai.onnx opset at which its replacement is
valid; the min-opset analysis reads `REPLACEMENT_MIN_OPSET` to tell how low a model
can go by conversion. A node that cannot be decomposed (an Einsum with a trace, a
ScatterND with reduction 'max') stays, with a GK505 finding saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.findings import Finding, Severity
from graphkit.ir._walk import every_graph
from graphkit.passes._decompose_activation import (
    gelu,
    hard_sigmoid,
    hard_swish,
    mish,
    softplus,
    swish,
)
from graphkit.passes._decompose_einsum import einsum
from graphkit.passes._decompose_function import FUNCTION_BODY_OPS, function_body
from graphkit.passes._decompose_index import gather_elements, mod, scatter_nd
from graphkit.passes._decompose_norm import group_normalization, layer_normalization
from graphkit.passes._graph_edit import ensure_shapes
from graphkit.passmanager import Pass, PassContext, PassResult
from graphkit.rewrite import Builder, Decline, names_in_model, replace_nodes

Decomposer = Callable[[ir.Node, Builder], "ir.Value | Sequence[ir.Value]"]


@dataclass(frozen=True)
class Decomposition:
    op: str
    min_opset: int  # lowest opset where every op of the replacement exists as written
    build: Decomposer


DECOMPOSITIONS: tuple[Decomposition, ...] = (
    Decomposition("Einsum", 5, einsum),                 # Transpose, ReduceSum, Reshape, MatMul
    Decomposition("Gelu", 9, gelu),                     # x/2 * (1 + erf(x/sqrt2)) | tanh form
    Decomposition("GatherElements", 11, gather_elements),  # GatherND over (grid.., idx, ..grid)
    Decomposition("ScatterND", 9, scatter_nd),          # x * (1 - mask) + one_hot^T @ updates
    Decomposition("Mod", 9, mod),                       # a - b * trunc|floor(a / b)
    Decomposition("LayerNormalization", 7, layer_normalization),  # (x - m) / sqrt(v + e) * s + b
    Decomposition("GroupNormalization", 7, group_normalization),  # LayerNorm over [C/G, ...] groups
    Decomposition("HardSwish", 8, hard_swish),          # x * clip(x/6 + 1/2, 0, 1)
    Decomposition("HardSigmoid", 8, hard_sigmoid),      # clip(alpha x + beta, 0, 1)
    Decomposition("Softplus", 7, softplus),             # relu(x) + log(1 + exp(-|x|))
    Decomposition("Mish", 7, mish),                     # x * tanh(softplus(x))
    Decomposition("Swish", 7, swish),                   # x * sigmoid(alpha x)
    # onnx's own function bodies (CenterCropPad, the losses, RotaryEmbedding, Attention)
    *(Decomposition(op, since, function_body) for op, since in FUNCTION_BODY_OPS.items()),
)

# op -> lowest opset of its replacement (read by the min-opset analysis).
REPLACEMENT_MIN_OPSET: Mapping[str, int] = MappingProxyType(
    {d.op: d.min_opset for d in DECOMPOSITIONS}
)

# Decompositions that read static shapes of intermediate values.
NEEDS_SHAPES = frozenset(
    {"Einsum", "GatherElements", "ScatterND", "LayerNormalization", "GroupNormalization",
     *FUNCTION_BODY_OPS}  # a body is built for its input types
)


def decomposition_for(op: str) -> Decomposition:
    for decomposition in DECOMPOSITIONS:
        if decomposition.op == op:
            return decomposition
    known = ", ".join(d.op for d in DECOMPOSITIONS)
    raise InputError(f"decompose: no decomposition for op '{op}' (known: {known})")


@dataclass(frozen=True)
class Decompose(Pass):
    name = "decompose"
    kind = "rewrite"
    fixes = ("GK101",)
    reaches_subgraphs = True  # rewrites If/Loop/Scan bodies and functions (diagnose reads it)
    ops: tuple[str, ...] = ()  # empty: every op in DECOMPOSITIONS

    def __post_init__(self) -> None:
        for op in self.ops:
            decomposition_for(op)  # fail fast, naming the known ops, on a typo

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        return decompose_ops(model, ctx, self.ops)


def decompose_ops(model: ir.Model, ctx: PassContext, ops: Sequence[str] = ()) -> PassResult:
    """Decompose every node of `ops` (empty: of every op in DECOMPOSITIONS), in every graph:
    the decompose pass, as a function for convert-opset, which learns only from onnx's
    converter which op it must take apart."""
    chosen = {op: decomposition_for(op) for op in ops} if ops else \
        {d.op: d for d in DECOMPOSITIONS}
    targets = [node for scope in every_graph(model) for node in scope.graph
               if node.op_type in chosen and node.domain in ("", "ai.onnx")]
    if not targets:
        return PassResult()
    if any(node.op_type in NEEDS_SHAPES for node in targets):
        ensure_shapes(model, ctx)  # a decomposition that needs them and lacks them declines
    return decompose_nodes(model, targets, chosen)


def decompose_nodes(model: ir.Model, nodes: Sequence[ir.Node],
                    chosen: Mapping[str, Decomposition]) -> PassResult:
    """Replace each node (of any graph of the model: subgraphs and functions too)."""
    scopes = {id(scope.graph): scope for scope in every_graph(model)}
    taken = names_in_model(model)
    result = PassResult()
    for node in nodes:
        graph, opset, in_function = scopes[id(node.graph)]
        builder = Builder(graph, opset, f"decompose/{node.name or node.outputs[0].name}", taken,
                          constant_nodes=in_function)
        try:
            replacement = chosen[node.op_type].build(node, builder)
        except Decline as why:
            result.findings.append(Finding("GK505", Severity.INFO, f"decompose: {node.op_type} "
                                           f"'{node.name}' kept: {why}",
                                           node=node.name, op=node.op_type))
            continue
        replace_nodes(graph, node, [node], builder, replacement)
        result.modified = True
        result.changes.append(f"decomposed {node.op_type} '{node.name}' "
                              f"into {len(builder.nodes)} node(s)")
    return result
