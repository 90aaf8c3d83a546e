"""How much does graphkit's safe load + save cost over plain onnx.load + onnx.save?

Measured on the 8,064-node benchmark transformer (tools/models.py), both paths in one run,
interleaved so that a busy machine slows both alike; the median of the repeats is reported,
in wall time and in CPU time (the latter is steadier on a shared machine). Goal: <= 1.5x.

    python tools/bench_ir.py [--repeats 9] [--blocks 48]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import transformer_onnx  # noqa: E402

from graphkit.ir import load_onnx, save_onnx  # noqa: E402
from graphkit.ir._load import _map_file, model_from_proto, parse_whole  # noqa: E402
from graphkit.ir._wellformed import check_well_formed  # noqa: E402

GOAL = 1.5


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _onnx_round_trip(source: Path, out: Path) -> None:
    onnx.save(onnx.load(source), out)


def _graphkit_round_trip(source: Path, out: Path) -> None:
    save_onnx(load_onnx(source), out)


def _same_model(source: Path, copy: Path) -> bool:
    """A fast save is worthless if it is wrong: compare what matters, field by field."""
    a, b = onnx.load(source), onnx.load(copy)
    return (
        list(a.graph.node) == list(b.graph.node)
        and _initializers_by_name(a) == _initializers_by_name(b)
        and list(a.graph.input) == list(b.graph.input)
        and list(a.graph.output) == list(b.graph.output)
    )


def _initializers_by_name(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    return sorted(model.graph.initializer, key=lambda tensor: tensor.name)


def _median(samples: list[tuple[float, float]], which: int) -> float:
    return statistics.median(sample[which] for sample in samples)


def _phases(source: Path, out: Path, repeats: int) -> dict[str, float]:
    """Where graphkit's time goes (CPU medians), to see what to optimize next."""
    proto = parse_whole(_map_file(source), str(source))
    model = load_onnx(source)
    work = {
        "load (weights mapped in place)": lambda: load_onnx(source),
        "parse with the weights (mmap)": lambda: parse_whole(_map_file(source), str(source)),
        "well-formedness check": lambda: check_well_formed(proto, str(source)),
        "proto -> IR (with checks)": lambda: model_from_proto(proto, base_dir=source.parent),
        "save (IR -> file)": lambda: save_onnx(model, out),
    }
    return {
        name: statistics.median(_timed(fn)[1] for _ in range(repeats)) for name, fn in work.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--blocks", type=int, default=48)
    args = parser.parse_args()
    source = transformer_onnx(blocks=args.blocks)
    nodes = len(onnx.load(source, load_external_data=False).graph.node)
    with tempfile.TemporaryDirectory(prefix="bench-ir-") as folder:
        out = Path(folder)
        _graphkit_round_trip(source, out / "warm.onnx")  # first touches: imports, page cache
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(_timed(lambda: _onnx_round_trip(source, out / "plain.onnx")))
            ours.append(_timed(lambda: _graphkit_round_trip(source, out / "ours.onnx")))
        phases = _phases(source, out / "phase.onnx", max(3, args.repeats // 2))
        same = _same_model(source, out / "ours.onnx")
    size = source.stat().st_size / 2**20
    print(f"model: {source.name}, {nodes:,} nodes, {size:.0f} MiB; median of {args.repeats} runs")
    print(f"{'':28}{'wall s':>9}{'cpu s':>9}")
    for label, samples in (("onnx.load + onnx.save", plain), ("graphkit load + save", ours)):
        print(f"{label:28}{_median(samples, 0):9.3f}{_median(samples, 1):9.3f}")
    ratios = [_median(ours, i) / _median(plain, i) for i in (0, 1)]
    print(f"{'ratio graphkit / onnx':28}{ratios[0]:8.2f}x{ratios[1]:8.2f}x   (goal <= {GOAL}x)")
    print(f"graphkit's copy holds the same nodes, initializers and interface: {same}")
    print("graphkit phases (cpu s): " + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()))
    return 0 if max(ratios) <= GOAL and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
