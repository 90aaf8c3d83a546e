"""TFLite backend: ONNX (onnx-ir) -> .tflite flatbuffer written directly (no TensorFlow),
validated and run with LiteRT's interpreter.

emitter.py writes the file, runner.py runs it, lowering/ holds one module per op family; the
tflite target's analysis (graphkit.backends.tflite.target) asks the same lowering about every node.
Nothing is imported here, so naming the package loads neither LiteRT nor the lowering."""
