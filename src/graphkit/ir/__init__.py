"""graphkit's IR is onnx-ir's Model/Graph/Node/Value; this package adds safe I/O and interop."""

from graphkit.ir._io import copy_model, load_onnx, load_onnx_bytes, model_from_proto, save_onnx

__all__ = ["copy_model", "load_onnx", "load_onnx_bytes", "model_from_proto", "save_onnx"]
