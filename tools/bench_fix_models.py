"""`tools/bench_fix.py --models`: graphkit fix vs onnxslim and onnxsim, one process per run.

    python tools/bench_fix.py --models [rounds] [NAME ...]

Prints, per model, each tool's median wall time and the nodes it left, then graphkit's time
and nodes over onnxslim's (goal: both at most 1.0), and how much of fix's time the proof took
(from the JSON report's `timing`).
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx
from bench_models import BUILDERS, model_path

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    """A console script: this venv's, else the one of the environment its package is
    installed in (a venv that borrows packages has no scripts of its own)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{name} not installed: pip install {name} (benchmark only)")
    home = Path(spec.origin).parents[4] / "bin"  # <env>/lib/pythonX.Y/site-packages/<name>/
    for folder in (BIN, home):
        if (folder / name).exists():
            return str(folder / name)
    raise SystemExit(f"{name}'s command not found in {BIN} or {home}")


def commands(model: Path, out: Path) -> dict[str, list[str]]:
    return {
        "graphkit": [str(BIN / "graphkit"), "fix", str(model), "--target", "ort", "-o",
                     str(out), "--format", "json"],
        "onnxslim": [_tool("onnxslim"), str(model), str(out)],
        "onnxsim": [_tool("onnxsim"), str(model), str(out)],
    }


def run_once(command: list[str]) -> tuple[float, str, int]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, done.stdout, done.returncode


def nodes_of(path: Path) -> int:
    return len(onnx.load(path, load_external_data=False).graph.node)


def bench_models(argv: list[str]) -> None:
    rounds = int(argv[0]) if argv and argv[0].isdigit() else 1
    names = [a for a in argv if not a.isdigit()] or list(BUILDERS)
    paths = {name: model_path(name) for name in names}
    times: dict[tuple[str, str], list[float]] = {}
    nodes: dict[tuple[str, str], int | str] = {}
    proof: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for name, path in paths.items():
                for tool, command in commands(path, Path(scratch) / f"{name}.out.onnx").items():
                    out = Path(command[command.index(str(path)) + 1]) if tool != "graphkit" \
                        else Path(command[command.index("-o") + 1])
                    out.unlink(missing_ok=True)
                    seconds, stdout, code = run_once(command)
                    times.setdefault((name, tool), []).append(seconds)
                    nodes[(name, tool)] = nodes_of(out) if out.exists() else f"exit {code}"
                    if tool == "graphkit" and stdout.strip().startswith("{"):
                        timing = json.loads(stdout).get("timing", {})
                        if "proof_seconds" in timing:
                            proof.setdefault(name, []).append(
                                timing["proof_seconds"] / timing["fix_seconds"])
    _print(paths, times, nodes, proof, rounds)


def _print(paths, times, nodes, proof, rounds: int) -> None:
    print(f"fix --target ort (proof on) vs onnxslim and onnxsim; one process per run, "
          f"median of {rounds} interleaved round(s), wall seconds")
    header = f"{'model':22s} {'nodes':>6s}"
    for tool in ("graphkit", "onnxslim", "onnxsim"):
        header += f" {tool + ' s':>11s} {'nodes':>6s}"
    print(header + f" {'time/slim':>9s} {'nodes/slim':>10s} {'proof %':>7s}")
    for name, path in paths.items():
        line = f"{name:22s} {nodes_of(path):6d}"
        for tool in ("graphkit", "onnxslim", "onnxsim"):
            line += f" {statistics.median(times[(name, tool)]):11.2f} {nodes[(name, tool)]!s:>6s}"
        ratio = statistics.median(times[(name, "graphkit")]) / statistics.median(
            times[(name, "onnxslim")])
        ours, theirs = nodes[(name, "graphkit")], nodes[(name, "onnxslim")]
        node_ratio = f"{ours / theirs:.2f}" if isinstance(ours, int) and isinstance(theirs, int) \
            else "-"
        share = f"{100 * statistics.median(proof[name]):.0f}" if name in proof else "-"
        print(line + f" {ratio:9.2f} {node_ratio:>10s} {share:>7s}")
