"""ONNX Runtime, CPU execution provider: analysis (target.py), pipeline, emitter, runner."""

# ORT's graph optimization levels, as `convert --to ort --optimization` takes them: here, so
# that the CLI lists them without importing the emitter (and onnxruntime).
LEVELS = ("disable", "basic", "extended", "all")
