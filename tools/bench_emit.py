"""Latency of emitted artifacts against their references, measured side by side in one run.

    python tools/bench_emit.py [--models resnet,bert] [--threads 1] [--repeats 50]

TorchScript: the .pt graphkit emits from the ONNX export, against the original torch
module (goal <= 1.05x). ORT: the artifact `graphkit convert --to ort` writes, against
ONNX Runtime at ORT_ENABLE_ALL on the unfixed model (goal <= 1.0x). Same inputs, same
thread count, interleaved repeats, medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402


def median_seconds(fns: dict[str, callable], repeats: int) -> dict[str, float]:
    """Interleave the candidates so that machine noise hits them alike."""
    for fn in fns.values():
        fn()  # warm up
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_model(name: str, threads: int, repeats: int,
                folder: Path) -> list[tuple[str, float, float]]:
    import onnxruntime as ort
    import torch

    import graphkit

    torch.set_num_threads(threads)
    module, example, _ = models.ZOO[name]()
    onnx_path = models.export_zoo_model(name, folder / f"{name}.onnx")
    feeds = {value.name: tensor.numpy() for value, tensor
             in zip(graphkit.load(onnx_path).graph.inputs, example)}

    pt = graphkit.convert(onnx_path, "torchscript", folder / f"{name}.pt", inputs=feeds)
    ort_artifact = graphkit.convert(onnx_path, "ort", folder / f"{name}.opt.onnx", inputs=feeds)
    assert pt.validated and ort_artifact.validated, "artifacts must match before timing them"

    scripted = torch.jit.load(str(pt.path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    reference = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    options_artifact = ort.SessionOptions()
    options_artifact.intra_op_num_threads = options_artifact.inter_op_num_threads = threads
    emitted = ort.InferenceSession(str(ort_artifact.path), options_artifact,
                                   providers=["CPUExecutionProvider"])
    tensors = [torch.from_numpy(np.ascontiguousarray(feeds[k])) for k in feeds]

    with torch.inference_mode():
        times = median_seconds({
            "torch module": lambda: module(*tensors),
            "graphkit .pt": lambda: scripted(*tensors),
            "ORT ENABLE_ALL (unfixed)": lambda: reference.run(None, feeds),
            "graphkit ORT artifact": lambda: emitted.run(None, feeds),
        }, repeats)
    return [
        ("torchscript", times["graphkit .pt"], times["torch module"]),
        ("ort", times["graphkit ORT artifact"], times["ORT ENABLE_ALL (unfixed)"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet,unet,lstm,bert")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    goals = {"torchscript": 1.05, "ort": 1.0}
    print(f"{'model':10} {'target':12} {'graphkit ms':>12} {'reference ms':>13} {'ratio':>7}  goal")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            for target, ours, theirs in bench_model(name, args.threads, args.repeats, Path(folder)):
                ratio = ours / theirs
                verdict = "ok" if ratio <= goals[target] else "over"
                print(f"{name:10} {target:12} {ours * 1e3:12.3f} {theirs * 1e3:13.3f} "
                      f"{ratio:7.3f}  <= {goals[target]} {verdict}")


if __name__ == "__main__":
    main()
