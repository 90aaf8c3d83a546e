"""Per-target cleanup and fusion pipelines, TVM-style: one small function per target.

Each returns a pipeline string (the same the CLI takes). `fix` runs it after the passes
that legalize the model. Fusions are named by rule (passes/fuse.py); a rule whose op the
model's opset lacks is dropped here, so a pipeline never asks for an op the model
cannot hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def cleanup() -> list[str]:
    return [
        "eliminate-identity",
        "lift-constants",
        "eliminate-common-subexpressions",
        "fold-constants",
        "fold-shapes",  # shape inference + folding, repeated while it changes something
        "remove-redundant-casts",
        "eliminate-common-subexpressions",
        "remove-dead-nodes",
    ]


def ort(opset: int) -> list[str]:
    # ONNX Runtime's CPU EP has kernels for every fused op these rules write.
    rules = ("pad-conv", "conv-bn", "gemm", "gelu", "layer-norm", "silu", "mish",
             "hard-sigmoid", "hard-swish", "transposes", "reshapes")
    return cleanup() + _fuse(rules, opset) + ["remove-dead-nodes"]


def portable(opset: int) -> list[str]:
    # Targets whose op lists we do not read here: only fusions that write ops every
    # runtime has (Conv, Transpose, Reshape).
    return cleanup() + _fuse(("pad-conv", "conv-bn", "transposes", "reshapes"), opset) \
        + ["remove-dead-nodes"]


def pipeline_for(target: str, opset: int) -> str:
    pipeline: Callable[[int], list[str]] = ort if target == "ort" else portable
    return ",".join(pipeline(opset))


def nms_form(target: str) -> str:
    """The NMS mode `fix` uses when the target's GK109 finding asks for one and the user chose none.

    TensorRT's parser imports ONNX NMS as a layer whose output size depends on the data;
    its plugin library's EfficientNMS_TRT gives the static-size outputs engines want.
    TFLite's NMS builtins take one batch and one class per call: the padded form (ONNX NMS
    then a top-K to a fixed size) lowers to them and keeps every output shape static.
    Elsewhere the model's own NMS stays.
    """
    family = target.split("@")[0]
    if family == "tensorrt":
        return "plugin"
    if family == "tflite":
        return "native"
    return "keep"


def _fuse(rules: Sequence[str], opset: int) -> list[str]:
    from graphkit.passes.fuse import fusion_named

    usable = [rule for rule in rules if fusion_named(rule).min_opset <= opset]
    return [f"fuse{{rules={'+'.join(usable)}}}"] if usable else []
