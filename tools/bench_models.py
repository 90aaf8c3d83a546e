"""The fixed model set of `tools/bench_fix.py --models` (issue 13), every one built in code.

    python tools/bench_models.py [NAME ...]     # write them (cached) and print node counts

Random weights, no downloads. Each is written once to FOLDER/<name>.onnx and reused.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402

FOLDER = Path(tempfile.gettempdir()) / "graphkit-bench-models"


def _keras(name: str) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import tensorflow as tf

        import graphkit

        factory = getattr(tf.keras.applications, name)
        model = factory(weights=None, input_shape=(224, 224, 3))
        graphkit.save(graphkit.load(model, opset=17), path)

    return build


def _torch(builder: Callable, names: list[str], opset: int = 17) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import torch

        module, example, dynamic = builder()
        with torch.no_grad():
            torch.onnx.export(module, example, str(path), dynamo=False, opset_version=opset,
                              input_names=names, output_names=["output"],
                              dynamic_axes=dynamic)

    return build


def resnet18():
    """ResNet-18's layout (torchvision's, written out: torchvision is not installed)."""
    import torch
    from models import _randomize_batchnorm
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.skip = nn.Sequential()
            if stride != 1 or cin != cout:
                self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            return torch.relu(self.body(x) + self.skip(x))

    torch.manual_seed(0)
    layers, cin = [], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    net = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                        nn.MaxPool2d(3, 2, 1), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(512, 1000))
    _randomize_batchnorm(net)
    return net.eval(), (torch.randn(1, 3, 224, 224),), {"input": {0: "batch"}}


def bert_small():
    """BERT-small's shape (4 layers, hidden 512, 8 heads), dynamic batch and sequence."""
    return models.bert(dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                            intermediate_size=2048), example=(1, 128))


def gpt2_small():
    """GPT-2 small's config (12 layers, 768 wide), logits of one sequence, dynamic length."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(use_cache=False)
    lm = GPT2LMHeadModel(config).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = lm

        def forward(self, input_ids):
            # An explicit mask: without one, transformers looks for packed sequences with
            # aten::diff, which the exporter lacks.
            mask = torch.ones_like(input_ids)
            return self.lm(input_ids=input_ids, attention_mask=mask).logits

    ids = torch.randint(0, config.vocab_size, (1, 64))
    return Logits().eval(), (ids,), {"input_ids": {0: "batch", 1: "seq"}}


def _unet():
    from models import unet

    return unet()


def ir3_cnn(path: Path) -> None:
    """A zoo-style IR-3 CNN (VGG-like): opset 9, every initializer a graph input too."""
    import onnx
    import torch
    from torch import nn

    torch.manual_seed(0)
    blocks, cin = [], 3
    for cout in (64, 128, 256, 256, 512):
        blocks += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                   nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    net = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(512 * 7 * 7, 1024), nn.ReLU(),
                        nn.Dropout(), nn.Linear(1024, 1000), nn.Softmax(dim=1)).eval()
    partial = path.with_suffix(".partial.onnx")
    torch.onnx.export(net, (torch.randn(1, 3, 224, 224),), str(partial), dynamo=False,
                      opset_version=9, input_names=["data"], output_names=["prob"])
    proto = onnx.load(partial)
    declared = {value.name for value in proto.graph.input}
    for tensor in proto.graph.initializer:
        if tensor.name not in declared:
            proto.graph.input.append(onnx.helper.make_tensor_value_info(
                tensor.name, tensor.data_type, list(tensor.dims)))
    proto.ir_version = 3
    onnx.save(proto, path)
    partial.unlink()


def dynamic_transformer(path: Path, blocks: int = 48) -> None:
    import onnx
    from models import op_by_op_transformer

    onnx.save(op_by_op_transformer(blocks), path)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "mobilenetv2-keras": _keras("MobileNetV2"),
    "efficientnetb0-keras": _keras("EfficientNetB0"),
    "resnet18-torch": _torch(resnet18, ["input"]),
    "unet-torch": _torch(_unet, ["input"]),
    "bert-small": _torch(bert_small, ["input_ids", "attention_mask"]),
    "gpt2-small": _torch(gpt2_small, ["input_ids"]),
    "cnn-ir3": ir3_cnn,
    "transformer-dynamic": dynamic_transformer,
}


def model_path(name: str) -> Path:
    """The model's file, built on first use (a marker says the build finished: a large
    model's weights may lie in a data file beside it, so it is not built under another name)."""
    FOLDER.mkdir(exist_ok=True)
    path, done = FOLDER / f"{name}.onnx", FOLDER / f"{name}.done"
    if not done.exists():
        BUILDERS[name](path)
        done.touch()
    return path


if __name__ == "__main__":
    import onnx

    for name in sys.argv[1:] or BUILDERS:
        print(name, len(onnx.load(model_path(name), load_external_data=False).graph.node))
