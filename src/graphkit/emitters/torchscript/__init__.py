"""TorchScript emitter: ONNX -> torch.fx -> torch.jit.script (trace as fallback) -> `.pt`."""

from graphkit.emitters.torchscript.emitter import SUFFIXES, emit, mobile_support, run_artifact
from graphkit.emitters.torchscript.lowering import unsupported_reason

__all__ = ["SUFFIXES", "emit", "mobile_support", "run_artifact", "unsupported_reason"]
