"""A stand-in `torchvision` for tools/bench_emit.py's child processes, where onnx2torch is
imported: onnx2torch imports torchvision.ops at module level (for NonMaxSuppression and
RoiAlign converters) and this venv has no torchvision. Only what onnx2torch names exists.
"""

from torchvision import ops

__all__ = ["ops"]
