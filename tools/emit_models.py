"""The model set of tools/bench_emit.py: each model as an ONNX file, its inputs, and the
torch module it came from (None for Keras and ONNX-zoo models).

    torch: resnet, unet, lstm, bert (tools/models.py's zoo), gpt2 (a small GPT-2 config)
    Keras via tf2onnx (graphkit.load): mobilenetv2, efficientnetb0 (weights=None, 224x224)
    ONNX zoo: ir3 (the onnx wheel's light SqueezeNet: IR 3, initializers also graph inputs)

Nothing is downloaded: weights are random, built in code.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import models
import numpy as np

TORCH_ZOO = ("resnet", "unet", "lstm", "bert")
ALL = (*TORCH_ZOO, "gpt2", "mobilenetv2", "efficientnetb0", "ir3")


@dataclass
class BenchModel:
    onnx_path: Path
    feeds: dict[str, np.ndarray]  # ONNX input name -> array
    module: Any | None = None  # the torch module the ONNX was exported from, if any
    example: tuple[Any, ...] = ()  # its positional torch inputs


def build(name: str, folder: Path) -> BenchModel:
    if name not in BUILDERS:
        raise SystemExit(f"unknown model '{name}' (choose from {', '.join(ALL)})")
    return BUILDERS[name](name, folder)


def _torch_zoo(name: str, folder: Path) -> BenchModel:
    module, example, _ = models.ZOO[name]()
    path = models.export_zoo_model(name, folder / f"{name}.onnx")
    return BenchModel(path, _feeds(path, example), module, example)


def _gpt2(name: str, folder: Path) -> BenchModel:
    """GPT-2 from a config as small as the BERT one (2 layers, width 64), causal mask."""
    import torch
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(vocab_size=100, n_positions=64, n_embd=64, n_layer=2, n_head=4,
                        bos_token_id=0, eos_token_id=0,
                        use_cache=False)
    torch.manual_seed(0)
    model = GPT2Model(config).eval()

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gpt2 = model

        def forward(self, input_ids, attention_mask):
            # With a mask given, transformers skips its packed-sequence check (aten::diff,
            # which the ONNX exporter lacks).
            return self.gpt2(input_ids=input_ids, attention_mask=attention_mask,
                             use_cache=False).last_hidden_state

    module = Decoder().eval()
    example = (torch.randint(0, 100, (2, 12)), torch.ones(2, 12, dtype=torch.int64))
    path = folder / f"{name}.onnx"
    dynamic = {"batch": 0, "seq": 1}
    torch.onnx.export(module, example, str(path), dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=["output"],
                      dynamic_axes={key: {v: k for k, v in dynamic.items()}
                                    for key in ("input_ids", "attention_mask", "output")})
    return BenchModel(path, _feeds(path, example), module, example)


def _keras(name: str, folder: Path) -> BenchModel:
    import keras

    import graphkit
    from graphkit.ir import save_onnx

    application = {"mobilenetv2": keras.applications.MobileNetV2,
                   "efficientnetb0": keras.applications.EfficientNetB0}[name]
    keras.utils.set_random_seed(0)
    net = application(weights=None, input_shape=(224, 224, 3))
    path = folder / f"{name}.onnx"
    save_onnx(graphkit.load(net), path)
    image = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    return BenchModel(path, {_input_names(path)[0]: image})


def _ir3(name: str, folder: Path) -> BenchModel:
    from onnx.backend.test.loader import __file__ as loader_file

    light = Path(loader_file).parent.parent / "data" / "light" / "light_squeezenet.onnx"
    path = folder / f"{name}.onnx"
    shutil.copyfile(light, path)
    image = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    return BenchModel(path, {_input_names(path)[0]: image})


def _input_names(path: Path) -> list[str]:
    """Inputs a caller feeds (IR-3 initializers are inputs too, with defaults)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    defaults = {init.name for init in graph.initializer}
    return [value.name for value in graph.input if value.name not in defaults]


def _feeds(path: Path, example: tuple[Any, ...]) -> dict[str, np.ndarray]:
    return {name: tensor.numpy() for name, tensor in zip(_input_names(path), example)}


BUILDERS: dict[str, Callable[[str, Path], BenchModel]] = {
    **{name: _torch_zoo for name in TORCH_ZOO},
    "gpt2": _gpt2,
    "mobilenetv2": _keras,
    "efficientnetb0": _keras,
    "ir3": _ir3,
}
