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


# --- a small zoo of real architectures, for end-to-end tests and tools/bench_emit.py -------
# Each builder returns (module in eval mode, example inputs tuple, dynamic_axes or None).


def resnet_style():
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.skip = nn.Sequential()
            if stride != 1 or cin != cout:
                self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )
    _randomize_batchnorm(net)
    return net.eval(), (torch.randn(2, 3, 32, 32),), {"input": {0: "batch"}}


def unet():
    import torch
    from torch import nn

    def double_conv(cin: int, cout: int):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down1, self.down2 = double_conv(3, 8), double_conv(8, 16)
            self.bottom = double_conv(16, 32)
            self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
            self.dec2 = double_conv(32, 16)
            self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
            self.dec1 = double_conv(16, 8)
            self.head = nn.Conv2d(8, 2, 1)

        def forward(self, x):
            d1 = self.down1(x)
            d2 = self.down2(nn.functional.max_pool2d(d1, 2))
            b = self.bottom(nn.functional.max_pool2d(d2, 2))
            u2 = self.dec2(torch.cat([self.up2(b), d2], dim=1))
            u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
            return self.head(u1)

    torch.manual_seed(0)
    net = UNet()
    _randomize_batchnorm(net)
    return net.eval(), (torch.randn(1, 3, 32, 32),), {"input": {0: "batch"}}


def deeplab_style():
    """Dilated-conv ASPP head and a bilinear upsample back to the input size."""
    import torch
    from torch import nn

    class DeepLab(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(
                nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
            self.branches = nn.ModuleList(
                nn.Conv2d(32, 16, 3, padding=d, dilation=d) for d in (1, 2, 4))
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(32, 16, 1))
            self.project = nn.Sequential(nn.Conv2d(64, 16, 1), nn.ReLU(), nn.Conv2d(16, 3, 1))

        def forward(self, x):
            f = self.backbone(x)
            pooled = self.pool(f).expand(-1, -1, f.shape[2], f.shape[3])
            y = self.project(torch.cat([b(f) for b in self.branches] + [pooled], dim=1))
            return nn.functional.interpolate(y, size=x.shape[2:], mode="bilinear",
                                             align_corners=False)

    torch.manual_seed(0)
    net = DeepLab()
    _randomize_batchnorm(net)
    return net.eval(), (torch.randn(1, 3, 64, 64),), None


def lstm():
    import torch
    from torch import nn

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
            self.head = nn.Linear(32, 5)

        def forward(self, x):
            return self.head(self.lstm(x)[0])

    torch.manual_seed(0)
    return Tagger().eval(), (torch.randn(2, 7, 16),), {"input": {0: "batch", 1: "seq"}}


SMALL_BERT = dict(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128, max_position_embeddings=64)


def bert(config: dict | None = None, example: tuple[int, int] = (2, 12)):
    """A BERT-style encoder from a config (no weights downloaded; SMALL_BERT unless given),
    dynamic batch and sequence; `example` is the (batch, sequence) of the export's inputs."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(**(SMALL_BERT if config is None else config))
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.randint(0, config.vocab_size, example)
    mask = torch.ones(example, dtype=torch.int64)
    dynamic = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    return Encoder().eval(), (ids, mask), dynamic


def _randomize_batchnorm(net) -> None:
    """Freshly built BatchNorms are identities; real statistics make fusion bugs visible."""
    import torch

    generator = torch.Generator().manual_seed(1)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


ZOO = {
    "resnet": resnet_style,
    "unet": unet,
    "deeplab": deeplab_style,
    "lstm": lstm,
    "bert": bert,
}


def export_zoo_model(name: str, path: str | os.PathLike, opset: int = 17) -> Path:
    """Export one zoo model with the TorchScript-based exporter; input names from the zoo."""
    import torch

    module, example, dynamic = ZOO[name]()
    names = ["input_ids", "attention_mask"] if name == "bert" else ["input"]
    path = Path(path)
    torch.onnx.export(module, example, str(path), dynamo=False, opset_version=opset,
                      input_names=names, output_names=["output"],
                      dynamic_axes={**(dynamic or {}),
                                    **({"output": {0: "batch"}} if dynamic else {})})
    return path


def op_by_op_transformer(blocks: int = 48):
    """A pre-norm transformer written out node by node (as older exporters wrote one), truly
    dynamic: batch and sequence are read with Shape at run time in every block, LayerNorm
    and GELU are their decompositions. d=256, 4 heads, opset 17. Returns a ModelProto."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    heads, head = HEADS, D_MODEL // HEADS
    nodes: list = []
    weights: dict[str, np.ndarray] = {
        "axis0": np.array([0], np.int64), "heads": np.array([heads], np.int64),
        "head": np.array([head], np.int64), "width": np.array([D_MODEL], np.int64),
        "eps": np.array(1e-5, np.float32), "scale": np.array(1 / head**0.5, np.float32),
        "sqrt2": np.array(2**0.5, np.float32), "one": np.array(1, np.float32),
        "half": np.array(0.5, np.float32),
    }

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{len(nodes)}", **attrs))
        return out

    def weight(name: str, shape: tuple[int, ...], std: float = 0.05) -> str:
        weights[name] = (rng.standard_normal(shape) * std).astype(np.float32)
        return name

    def layer_norm(x: str, p: str) -> str:
        mean = node("ReduceMean", [x], f"{p}_mean", axes=[-1])
        centered = node("Sub", [x, mean], f"{p}_c")
        var = node("ReduceMean", [node("Mul", [centered, centered], f"{p}_sq")], f"{p}_var",
                   axes=[-1])
        std = node("Sqrt", [node("Add", [var, "eps"], f"{p}_ve")], f"{p}_sd")
        normed = node("Div", [centered, std], f"{p}_n")
        scaled = node("Mul", [normed, weight(f"{p}_g", (D_MODEL,), 1.0)], f"{p}_s")
        return node("Add", [scaled, weight(f"{p}_b", (D_MODEL,))], f"{p}_out")

    def linear(x: str, p: str, cin: int, cout: int) -> str:
        product = node("MatMul", [x, weight(f"{p}_w", (cin, cout))], f"{p}_mm")
        return node("Add", [product, weight(f"{p}_bias", (cout,))], f"{p}_out")

    x = "x"
    for b in range(blocks):
        p = f"b{b}"
        h = layer_norm(x, f"{p}_ln1")
        shape = node("Shape", [h], f"{p}_shape")
        batch = node("Unsqueeze", [node("Gather", [shape, "i0"], f"{p}_B0"), "axis0"],
                     f"{p}_B")
        seq = node("Unsqueeze", [node("Gather", [shape, "i1"], f"{p}_S0"), "axis0"], f"{p}_S")
        split = node("Concat", [batch, seq, "heads", "head"], f"{p}_split", axis=0)
        merged = node("Concat", [batch, seq, "width"], f"{p}_merge", axis=0)
        q, k, v = (node("Reshape", [linear(h, f"{p}_{n}", D_MODEL, D_MODEL), split],
                        f"{p}_{n}_r") for n in "qkv")
        q = node("Transpose", [q], f"{p}_qt", perm=[0, 2, 1, 3])
        k = node("Transpose", [k], f"{p}_kt", perm=[0, 2, 3, 1])
        v = node("Transpose", [v], f"{p}_vt", perm=[0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{p}_qk"), "scale"], f"{p}_scores")
        context = node("MatMul", [node("Softmax", [scores], f"{p}_p", axis=-1), v], f"{p}_ctx")
        context = node("Reshape", [node("Transpose", [context], f"{p}_ctxt", perm=[0, 2, 1, 3]),
                                   merged], f"{p}_ctxr")
        x = node("Add", [x, linear(context, f"{p}_o", D_MODEL, D_MODEL)], f"{p}_res1")
        h = linear(layer_norm(x, f"{p}_ln2"), f"{p}_up", D_MODEL, 4 * D_MODEL)
        erf = node("Erf", [node("Div", [h, "sqrt2"], f"{p}_gd")], f"{p}_erf")
        gelu = node("Mul", [node("Mul", [h, node("Add", [erf, "one"], f"{p}_e1")], f"{p}_gm"),
                            "half"], f"{p}_gelu")
        x = node("Add", [x, linear(gelu, f"{p}_down", 4 * D_MODEL, D_MODEL)], f"{p}_res2")
    nodes.append(helper.make_node("Identity", [x], ["y"], name="output"))
    weights["i0"], weights["i1"] = np.array(0, np.int64), np.array(1, np.int64)
    graph = helper.make_graph(
        nodes, "op_by_op_transformer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", D_MODEL])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", D_MODEL])],
        [numpy_helper.from_array(array, name) for name, array in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model
