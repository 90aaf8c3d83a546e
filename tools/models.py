"""Models built in code for benchmarks and tools (no downloads).

`transformer_onnx(path, blocks=48)` writes the benchmark transformer: torch
MultiheadAttention + LayerNorm + MLP blocks, d=256, exported by the TorchScript-based
exporter at opset 17 with dynamic batch and sequence. At 48 blocks it has 8,064 nodes.
The export traces at sequence 128, which bakes 128 into MultiheadAttention's Reshapes
while the input still declares `seq` dynamic: the model's dims are partly frozen.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

D_MODEL = 256
HEADS = 4
TRACE_BATCH, TRACE_SEQ = 2, 128


def _transformer_module(blocks: int):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
            self.norm1 = nn.LayerNorm(D_MODEL)
            self.norm2 = nn.LayerNorm(D_MODEL)
            self.mlp = nn.Sequential(
                nn.Linear(D_MODEL, 4 * D_MODEL), nn.GELU(), nn.Linear(4 * D_MODEL, D_MODEL)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.norm1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    torch.manual_seed(0)
    return nn.Sequential(*[Block() for _ in range(blocks)]).eval()


def transformer_onnx(path: str | os.PathLike | None = None, blocks: int = 48) -> Path:
    """Export the benchmark transformer to `path` (default: a cached temp file) and return it."""
    import torch

    if path is None:
        path = Path(tempfile.gettempdir()) / f"graphkit-transformer-{blocks}.onnx"
    path = Path(path)
    if path.exists():
        return path
    module = _transformer_module(blocks)
    example = torch.randn(TRACE_BATCH, TRACE_SEQ, D_MODEL)
    partial = path.with_suffix(".partial.onnx")
    torch.onnx.export(
        module, (example,), str(partial), opset_version=17, dynamo=False,
        input_names=["x"], output_names=["y"],
        dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}},
    )
    os.replace(partial, path)
    return path


if __name__ == "__main__":
    import sys

    import onnx

    blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    out = transformer_onnx(blocks=blocks)
    print(out, len(onnx.load(out).graph.node), "nodes")
