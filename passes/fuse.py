"""primitive subgraph -> fused op (Conv+BN -> Conv, MatMul+Add -> Gemm, GELU -> Gelu, ...),
by rule table.

One pass with a `rules` option rather than ten passes: the fusions share one matcher
and one shape-inference step, the fix loop picks rules per target from `FUSIONS`
(`fusions_for`), and the pipeline string reads `fuse{rules=conv-bn+gemm}`. Each fusion
declares the op it produces and the opset that op needs; a fusion whose op the model's
opset lacks is skipped, so the pass never writes an op the model cannot hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.findings import Finding, Severity
from graphkit.ir._walk import every_graph
from graphkit.passes._fusions_activation import (
    gelu_rules,
    hard_sigmoid_rules,
    hard_swish_rules,
    mish_rules,
    silu_rules,
)
from graphkit.passes._fusions_layout import layer_norm_rules, reshape_rules, transpose_rules
from graphkit.passes._fusions_linear import (
    conv_bn_rules,
    conv_scale_rules,
    gemm_rules,
    pad_conv_rules,
)
from graphkit.passes._fusions_neutral import neutral_rules
from graphkit.passes._graph_edit import ensure_shapes
from graphkit.passmanager import Pass, PassContext, PassResult
from graphkit.rewrite import RewriteLog, Rule, names_in_model, rewrite


@dataclass(frozen=True)
class Fusion:
    name: str  # as written in fuse{rules=...}
    fused_op: str  # the op the fusion writes
    min_opset: int  # the first ai.onnx opset that has `fused_op` in the form written
    rules: Callable[[], tuple[Rule, ...]]
    needs_shapes: bool = False


FUSIONS: tuple[Fusion, ...] = (
    # Conv(Pad(x, p, 0), w) -> Conv(x, w, pads+p)
    Fusion("pad-conv", "Conv", 11, pad_conv_rules),
    # BN(Conv(x, w, b)) -> Conv(x, w*s, (b-m)*s+t)
    Fusion("conv-bn", "Conv", 1, conv_bn_rules),
    # Mul(Conv(x, w, b), s) -> Conv(x, w*s, b*s); Add(Conv(x, w, b), t) -> Conv(x, w, b+t)
    Fusion("conv-scale", "Conv", 1, conv_scale_rules),
    # Add(MatMul(a, b), c) -> Gemm(a, b, c), 2-D
    Fusion("gemm", "Gemm", 7, gemm_rules, needs_shapes=True),
    # x/2 * (1 + erf(x/sqrt2)) -> Gelu(x) (+ tanh form)
    Fusion("gelu", "Gelu", 20, gelu_rules),
    # (x-m)/sqrt(v+e)*g+b
    Fusion("layer-norm", "LayerNormalization", 17, layer_norm_rules, needs_shapes=True),
    # x * Sigmoid(x) -> Swish(x)
    Fusion("silu", "Swish", 24, silu_rules),
    # x * tanh(softplus(x)) -> Mish(x)
    Fusion("mish", "Mish", 18, mish_rules),
    # relu6(x + 3) / 6 -> HardSigmoid(x)
    Fusion("hard-sigmoid", "HardSigmoid", 6, hard_sigmoid_rules),
    # x * HardSigmoid(x) -> HardSwish(x)
    Fusion("hard-swish", "HardSwish", 14, hard_swish_rules),
    # Transpose(Transpose(x, p), q) -> Transpose(x, p[q])
    Fusion("transposes", "Transpose", 1, transpose_rules),
    # Add(x, 0), Sub(x, 0), Mul(x, 1), Div(x, 1) -> x (no op is written: Identity stands for it)
    Fusion("neutral", "Identity", 1, neutral_rules, needs_shapes=True),
    # Reshape(Reshape(x, s), t) -> Reshape(x, t); Reshape(x, shape of x) -> x
    Fusion("reshapes", "Reshape", 5, reshape_rules, needs_shapes=True),
)


def fusion_named(name: str) -> Fusion:
    for fusion in FUSIONS:
        if fusion.name == name:
            return fusion
    known = ", ".join(f.name for f in FUSIONS)
    raise InputError(f"fuse: unknown rule set '{name}' (known: {known})")


def fusions_for(supports: Callable[[str, int], bool], opset: int) -> tuple[str, ...]:
    """The fusions whose fused op exists at `opset` and that a target `supports(op, opset)`."""
    return tuple(f.name for f in FUSIONS if opset >= f.min_opset and supports(f.fused_op, opset))


@dataclass(frozen=True)
class Fuse(Pass):
    name = "fuse"
    kind = "rewrite"
    fixes = ()  # fusions make models faster and smaller; no finding requires them
    reaches_subgraphs = True  # rewrites If/Loop/Scan bodies and functions (diagnose reads it)
    rules: tuple[str, ...] = ()  # empty: every fusion in FUSIONS
    infer_shapes: bool = True  # gemm and layer-norm need shapes of intermediate values

    def __post_init__(self) -> None:
        for name in self.rules:
            fusion_named(name)  # fail fast, with the known names, on a typo

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        opset = model.opset_imports.get("", 1)
        chosen = [fusion_named(n) for n in self.rules] if self.rules else list(FUSIONS)
        runnable = [f for f in chosen if opset >= f.min_opset]
        if self.infer_shapes and any(f.needs_shapes for f in runnable):
            ensure_shapes(model, ctx)  # best effort: what onnx cannot infer stays as is
        rules = [rule for fusion in runnable for rule in fusion.rules()]
        log = RewriteLog()
        taken = names_in_model(model)
        for scope in every_graph(model):  # If/Loop/Scan bodies and functions too
            part = rewrite(scope.graph, rules, scope.opset, taken=taken,
                           in_function=scope.in_function)
            log.rewrites += part.rewrites
            log.changes += part.changes
            log.declines += [why for why in part.declines if why not in log.declines]
        findings = [Finding("GK505", Severity.INFO, f"fuse: {why}") for why in log.declines]
        findings += [
            Finding("GK505", Severity.INFO,
                    f"fuse: {f.name} skipped: {f.fused_op} needs opset {f.min_opset}, "
                    f"model has {opset}")
            for f in chosen if f not in runnable and self.rules
        ]
        return PassResult(modified=log.rewrites > 0, findings=findings, changes=log.changes)


