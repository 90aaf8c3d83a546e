"""Benchmark: `graphkit.fix --target ort` vs onnxslim and onnxsim on the 8,064-node transformer.

    python tools/bench_fix.py [blocks] [rounds]
    python tools/bench_fix.py --models [rounds] [NAME ...]   # issue 13's model set, as users run it

With --models, each tool runs in a process of its own per model, from its command line as
a user runs it (`graphkit fix M --target ort -o out.onnx`, proof on; `onnxslim M out.onnx`;
`onnxsim M out.onnx`), rounds interleaved; the wall time of the whole process is what is
compared (start-up and saving included, for all three). Nodes are the main graph's nodes of
the file each wrote. Models: tools/bench_models.py.

onnxslim and onnxsim are benchmark-only tools (pip install onnxslim onnxsim); they are not
graphkit dependencies. Every tool starts from the same file (loading is timed, saving is
not). graphkit is timed twice: with its proof (ORT runs of the original and of the rewritten
model) and without (validate=False), since the other two do not validate.

Timed runs are interleaved, one of each per round, so that a busy moment of a shared
machine slows all alike (single runs of the same tool move by 20-50% there); the table
gives the median and the fastest of each, and the ratios are medians of the per-round
ratios. A garbage collection before each run (not timed) keeps one tool's leftovers out
of the next one's time. onnxslim takes ~15 s and only its node count is a goal: it runs
once.
Goal: graphkit's nodes <= onnxslim's, its time <= onnxsim's.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import transformer_onnx  # noqa: E402

PROVEN, PLAIN = "graphkit fix (proven)", "graphkit fix (no proof)"


def main() -> None:
    if sys.argv[1:2] == ["--models"]:
        from bench_fix_models import bench_models

        bench_models(sys.argv[2:])
        return
    import graphkit
    from graphkit.passmanager import count_nodes

    blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    path = transformer_onnx(blocks=blocks)
    tools: dict[str, Callable[[], int]] = {
        PLAIN: lambda: count_nodes(graphkit.fix(path, "ort", validate=False)[0]),
        PROVEN: lambda: _proven(graphkit, path),
    }
    try:
        import onnxsim

        tools["onnxsim"] = lambda: len(onnxsim.simplify(onnx.load(path))[0].graph.node)
    except ImportError:
        print("onnxsim not installed")
    times: dict[str, list[float]] = {name: [] for name in tools}
    nodes: dict[str, int] = {"original": len(onnx.load(path).graph.node)}
    for _ in range(rounds):
        for name, run in tools.items():
            gc.collect()  # untimed: the last tool's garbage is not collected in this one's time
            start = time.perf_counter()
            nodes[name] = run()
            times[name].append(time.perf_counter() - start)
    try:
        import onnxslim

        start = time.perf_counter()
        nodes["onnxslim"] = len(onnxslim.slim(onnx.load(path)).graph.node)
        times["onnxslim"] = [time.perf_counter() - start]
    except ImportError:
        print("onnxslim not installed")
    _print(nodes, times, rounds)


def _proven(graphkit, path: Path) -> int:
    from graphkit.passmanager import count_nodes

    fixed, report = graphkit.fix(path, "ort")
    if not report.validated:
        raise SystemExit(f"the proof failed: {[(d.name, d.max_abs) for d in report.validation]}")
    return count_nodes(fixed)


def _print(nodes: dict[str, int], times: dict[str, list[float]], rounds: int) -> None:
    print(f"{rounds} interleaved rounds (onnxslim: 1 run)")
    print(f"{'tool':26s} {'nodes':>7s} {'median s':>9s} {'fastest s':>10s}")
    print(f"{'original':26s} {nodes['original']:7d}")
    for name, seconds in times.items():
        print(f"{name:26s} {nodes[name]:7d} {statistics.median(seconds):9.2f} {min(seconds):10.2f}")
    for label in (PLAIN, PROVEN):
        if "onnxslim" in nodes:
            print(f"{label}: nodes / onnxslim nodes = {nodes[label] / nodes['onnxslim']:.3f}")
        if "onnxsim" in times:
            ratios = [ours / theirs for ours, theirs in zip(times[label], times["onnxsim"])]
            print(f"{label}: seconds / onnxsim seconds = {statistics.median(ratios):.2f} "
                  f"(median of rounds; range {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
