"""What `fix` runs for TensorRT after legalizing, and the NMS form its engines want."""

from __future__ import annotations

from graphkit.backends.pipelines import portable

# TensorRT's parser imports ONNX NMS as a layer whose output size depends on the data; its
# plugin library's EfficientNMS_TRT gives the static-size outputs engines want.
NMS_FORM = "plugin"


def pipeline(opset: int) -> list[str]:
    return portable(opset)
