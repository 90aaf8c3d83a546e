"""What `fix` runs for ONNX Runtime's CPU EP after legalizing: cleanup, then fusions."""

from __future__ import annotations

from graphkit.backends.pipelines import cleanup, fuse

NMS_FORM = "keep"  # onnxruntime runs ONNX NonMaxSuppression as it is


def pipeline(opset: int) -> list[str]:
    # ONNX Runtime's CPU EP has kernels for every fused op these rules write.
    rules = ("neutral", "pad-conv", "conv-bn", "conv-scale", "gemm", "gelu", "layer-norm",
             "silu", "mish", "hard-sigmoid", "hard-swish", "transposes", "reshapes")
    return cleanup() + fuse(rules, opset) + ["remove-dead-nodes"]
