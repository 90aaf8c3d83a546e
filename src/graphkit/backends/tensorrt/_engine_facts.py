"""What building an engine from this graph will take, beyond the parser's matrix: the
precision the engine gets (TensorRT 11: the graph's own types) and the inputs that need an
optimization profile."""

from __future__ import annotations

import onnx_ir as ir

from graphkit.backends.tensorrt.profiles import dynamic_inputs
from graphkit.findings import Finding, Severity

FLOAT16_FIX = "float16"  # graphkit's rewrite: keep-io, numerically sensitive ops in float32
QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})


def _dtypes(model: ir.Model) -> set[ir.DataType]:
    values = [*model.graph.inputs, *model.graph.outputs, *model.graph.initializers.values(),
              *(out for node in model.graph for out in node.outputs)]
    return {value.dtype for value in values if value.dtype is not None}


def precision_finding(model: ir.Model, wanted: str | None) -> Finding | None:
    """GK204 for a float32 graph: TensorRT 11 has no FP16 builder flag, so the engine is
    float32 unless the graph itself is float16. A warning with the float16 fix when the user
    asked for fp16; an info line otherwise. None when the graph holds float16 already, no
    float32 at all or Q/DQ nodes, or when float32 is what the user asked for."""
    dtypes = _dtypes(model)
    if ir.DataType.FLOAT not in dtypes or ir.DataType.FLOAT16 in dtypes or wanted == "fp32":
        return None
    if any(node.op_type in QDQ for node in model.graph):
        return None  # explicitly quantized: the Q/DQ pairs are its precision, as TRT 11 wants
    if wanted == "fp16":
        return Finding(
            "GK204", Severity.WARNING,
            "TensorRT 11 removed the FP16 builder flag (networks are strongly typed): this "
            "float32 graph builds a float32 engine; FP16 needs a float16 graph, which the "
            "float16 rewrite gives (--precision fp16 on fix or convert)", fix=FLOAT16_FIX)
    return Finding(
        "GK204", Severity.INFO,
        "TensorRT 11 builds strongly typed: this float32 graph gives a float32 engine; for "
        "FP16, convert or fix with --precision fp16 (graphkit's float16 rewrite, proven)")


def profile_finding(model: ir.Model) -> Finding | None:
    """GK307: the inputs with dynamic dims, which an engine takes only inside a profile."""
    dynamic = dynamic_inputs(model)
    if not dynamic:
        return None
    listed = "; ".join(f"{name} ({', '.join(dims)})" for name, dims in dynamic.items())
    first = next(iter(dynamic))
    return Finding(
        "GK307", Severity.INFO,
        f"inputs with dynamic dims need an optimization profile: {listed}; give their range "
        f"with convert --shapes {first}=MIN:OPT:MAX (else the validation shape is used for all "
        "three)")
