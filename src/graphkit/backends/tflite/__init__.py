"""TFLite emitter: ONNX (onnx-ir) -> .tflite flatbuffer written directly (no TensorFlow),
validated and run with LiteRT's interpreter.

The lowering table's verdict reaches the conformance harness through diagnose (the tflite
target asks the table), so the package exports no `unsupported_reason` of its own."""

from graphkit.backends.tflite.emitter import SUFFIXES, emit
from graphkit.backends.tflite.runner import run_artifact

FEEDS_NONSTANDARD_DTYPES = False  # numpy has no bfloat16/float8 for LiteRT's Python API

__all__ = ["FEEDS_NONSTANDARD_DTYPES", "SUFFIXES", "emit", "run_artifact"]
