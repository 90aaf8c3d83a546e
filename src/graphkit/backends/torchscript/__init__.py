"""TorchScript: ONNX -> torch.fx -> torch.jit.script (trace as fallback) -> `.pt`.

analysis (target.py: asks the lowering table), lowering/ (ONNX op -> torch.fx, one table for
analysis and emission), kernels/ (the scripted torch functions), emitter.py, runner.py.
This package imports nothing, so that the registry can name it without loading torch.
"""
