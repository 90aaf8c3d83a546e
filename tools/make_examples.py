"""Regenerate the example models under examples/ (small, built in code, committed).

    python tools/make_examples.py

tiny_cnn.onnx: Conv/BatchNorm/ReLU/GELU/pool/Linear, exported from torch at opset 17 with a
dynamic batch, BatchNorm kept (training-mode export off, constant folding off) so that
the example shows what the fusion and cast passes do.
"""

from __future__ import annotations

import os
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tiny_cnn_module():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.GELU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    ).eval()


def export_tiny_cnn(path: Path) -> None:
    import torch

    partial = path.with_suffix(".partial.onnx")
    torch.onnx.export(
        tiny_cnn_module(), (torch.randn(1, 3, 32, 32),), str(partial), dynamo=False,
        opset_version=17, input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=False,
    )
    os.replace(partial, path)


if __name__ == "__main__":
    EXAMPLES.mkdir(exist_ok=True)
    export_tiny_cnn(EXAMPLES / "tiny_cnn.onnx")
    print("wrote", EXAMPLES / "tiny_cnn.onnx")
