"""ONNX Runtime, CPU execution provider: analysis (target.py), pipeline, emitter, runner."""
