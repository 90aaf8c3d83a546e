"""What `fix` runs for TFLite after legalizing: cleanup, then the fusions whose fused op
the lowering writes as fewer builtins than the pieces, and the NMS form its builtins take.

Left out on purpose: `hard-sigmoid` (HardSigmoid lowers to MUL, ADD, RELU_0_TO_1, where
its pieces Add, Clip, Mul become ADD with a fused RELU6 and MUL) and `gemm` (MatMul and
Add become FULLY_CONNECTED with the bias folded in by the emitter's own fusions,
backends/tflite/_fuse.py, which also fold Conv+Mul/Add and fused activations).
"""

from __future__ import annotations

from graphkit.backends.pipelines import cleanup, fuse

# TFLite's NMS builtins take one batch and one class per call: the padded form (ONNX NMS
# then a top-K to a fixed size) lowers to them and keeps every output shape static.
NMS_FORM = "native"

RULES = ("pad-conv", "conv-bn", "gelu", "layer-norm", "hard-swish", "transposes", "reshapes")


def pipeline(opset: int) -> list[str]:
    # convert-layout is not here: its graphkit.nhwc functions are for graphkit's emitter,
    # not for a fixed .onnx a user hands to other tools. convert runs it (emitter.PREPARE).
    return cleanup() + fuse(RULES, opset) + ["remove-dead-nodes"]  # what the fusions left
