"""Latency of emitted artifacts against the other ways to run the same model, in one run.

    python tools/bench_emit.py [--models resnet,bert] [--threads 1] [--repeats 40]

Per model (tools/emit_models.py: torch, Keras via tf2onnx, an IR-3 zoo CNN), on the same
inputs, 1 thread, candidates interleaved within each round; median times, and ratios that
are medians of the per-round ratios:
- graphkit's TorchScript .pt (`graphkit.convert(onnx, "torchscript")`) against
  ONNX Runtime at ORT_ENABLE_ALL on the same ONNX (goal <= 1.3x), onnx2torch's module of
  that ONNX where onnx2torch converts it (goal <= 1.0x), and the original torch module
  for torch models (goal <= 1.05x);
- graphkit's ORT artifact (`convert --to ort`), loaded with default session options but
  the thread count, against ORT_ENABLE_ALL on the original ONNX (goal <= 1.0x).

Each model runs in its own child process, with a stand-in `torchvision` (tools/_standins)
on its path: onnx2torch imports torchvision, which this venv lacks. onnx2torch is
benchmark-only (pip install onnx2torch --no-deps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from _timing import interleaved_seconds  # noqa: E402

DEFAULT_MODELS = "resnet,unet,lstm,bert,gpt2,mobilenetv2,efficientnetb0,ir3"
PT, ORT_ALL, ONNX2TORCH, TORCH, ORT_ARTIFACT = (
    "graphkit .pt", "ORT ENABLE_ALL", "onnx2torch", "torch module", "graphkit ORT artifact")
# (ours, reference, goal): the ratios the table prints
RATIOS = ((PT, ORT_ALL, 1.3), (PT, ONNX2TORCH, 1.0), (PT, TORCH, 1.05),
          (ORT_ARTIFACT, ORT_ALL, 1.0))


def bench_model(name: str, threads: int, repeats: int, folder: Path) -> dict:
    """Child process: {"samples": candidate -> seconds per round, "notes": [...]}."""
    import emit_models
    import numpy as np
    import onnxruntime as ort
    import torch

    import graphkit

    torch.set_num_threads(threads)
    model = emit_models.build(name, folder)
    feeds = model.feeds
    pt = graphkit.convert(model.onnx_path, "torchscript", folder / f"{name}.pt", inputs=feeds)
    ort_artifact = graphkit.convert(model.onnx_path, "ort", folder / f"{name}.opt.onnx",
                                    inputs=feeds)
    if not (pt.validated and ort_artifact.validated):
        raise SystemExit(f"{name}: artifacts must match the model before timing them")
    scripted = torch.jit.load(str(pt.path))
    reference = ort.InferenceSession(str(model.onnx_path), _ort_options(ort, threads, "all"),
                                     providers=["CPUExecutionProvider"])
    emitted = ort.InferenceSession(str(ort_artifact.path), _ort_options(ort, threads, None),
                                   providers=["CPUExecutionProvider"])
    tensors = [torch.from_numpy(np.ascontiguousarray(feeds[k])) for k in feeds]
    candidates: dict[str, Callable[[], object]] = {
        PT: lambda: scripted(*tensors),
        ORT_ALL: lambda: reference.run(None, feeds),
        ORT_ARTIFACT: lambda: emitted.run(None, feeds),
    }
    notes = [f"ORT artifact optimization level: {ort_artifact.metadata['optimization']}"]
    if model.module is not None:
        module, example = model.module, model.example
        candidates[TORCH] = lambda: module(*example)
    converted, why_not = _onnx2torch(model.onnx_path, tensors)
    if converted is not None:
        candidates[ONNX2TORCH] = lambda: converted(*tensors)
    else:
        notes.append(f"onnx2torch: {why_not}")
    with torch.inference_mode():
        # TorchScript's profiling executor optimizes on its second run: three warm-ups
        samples = interleaved_seconds(candidates, repeats, warmups=3)
    return {"samples": samples, "notes": notes}


def _ort_options(ort, threads: int, level: str | None):
    """Session options as users leave them, but the thread count (and the level if given)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    if level == "all":
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def _onnx2torch(path: Path, tensors: list) -> tuple[object | None, str]:
    """onnx2torch's module of the ONNX, if it converts and runs; else why not."""
    try:
        import onnx2torch
    except ImportError as err:
        return None, f"not importable ({err})"
    import torch

    try:
        module = onnx2torch.convert(str(path)).eval()
        with torch.inference_mode():
            module(*tensors)
    except Exception as err:  # onnx2torch raises many types for ops it lacks
        return None, f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    return module, ""


def run_child(name: str, threads: int, repeats: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TOOLS / "_standins"), env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--child", name, "--threads", str(threads),
               "--repeats", str(repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"child failed ({done.returncode}): {tail}"}
    return json.loads(lines[-1])


def print_table(results: dict[str, dict]) -> None:
    """Median ms per candidate; each ratio is the median of the per-round ratios (a busy
    moment of a shared machine slows one round's candidates alike)."""
    names = [PT, ORT_ALL, ONNX2TORCH, TORCH, ORT_ARTIFACT]
    print(f"{'model':15}" + "".join(f"{n:>22}" for n in names) + "   (median ms)")
    for model, result in results.items():
        samples = result.get("samples", {})
        cells = [f"{statistics.median(samples[n]) * 1e3:22.3f}" if n in samples
                 else f"{'-':>22}" for n in names]
        print(f"{model:15}" + "".join(cells))
    print()
    print(f"{'model':15} {'ratio (median of per-round ratios)':42} {'value':>7}  goal")
    for model, result in results.items():
        if "error" in result:
            print(f"{model:15} {result['error']}")
            continue
        samples = result["samples"]
        for ours, theirs, goal in RATIOS:
            if ours in samples and theirs in samples:
                ratio = statistics.median(a / b for a, b in zip(samples[ours], samples[theirs]))
                verdict = "ok" if ratio <= goal else "over"
                print(f"{model:15} {ours + ' / ' + theirs:42} {ratio:7.3f}  <= {goal} {verdict}")
        for note in result["notes"]:
            print(f"{model:15} note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as folder:
            result = bench_model(args.child, args.threads, args.repeats, Path(folder))
        print(json.dumps(result))
        return
    results = {}
    for name in args.models.split(","):
        results[name] = run_child(name, args.threads, args.repeats)
        print(f"{name}: done", file=sys.stderr, flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
