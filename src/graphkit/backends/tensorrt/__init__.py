"""TensorRT through its ONNX parser: analysis (target.py) and pipeline; no emitter yet."""
