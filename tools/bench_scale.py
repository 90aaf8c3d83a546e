"""How diagnose and fix scale: a long chain and a wide graph, 8k to 200k nodes, built in code.

    python tools/bench_scale.py [--sizes 8000,25000,50000,100000,200000] [--commands diagnose,fix]
                                [--timeout SECONDS]

Each command runs as a user runs it, in a child process of its own; the table gives its wall
time and peak memory (the child's ru_maxrss, from wait4), then per 1k nodes. Growth is linear
when time and memory per node stay flat: the last column is the largest size's seconds per
node over the smallest's (1.0 is linear; a quadratic step shows as about size ratio).

- chain: x -> Add(c) -> Mul(c) -> Relu -> Add(c) ... (every node reads the one before), over
  a [1, 16] float tensor; c is one shared initializer.
- wide: N/2 branches Mul(x, s_i), each with its own scalar s_i, summed by a balanced tree
  of Adds into one output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FOLDER = Path(tempfile.gettempdir()) / "graphkit-bench-scale"
BIN = Path(sys.executable).parent
WIDTH = 16


def chain(nodes: int) -> onnx.ModelProto:
    ops = ("Add", "Mul", "Relu")
    made, previous = [], "x"
    for index in range(nodes):
        op = ops[index % 3]
        inputs = [previous] if op == "Relu" else [previous, "c"]
        out = "y" if index == nodes - 1 else f"v{index}"
        made.append(helper.make_node(op, inputs, [out], name=f"n{index}"))
        previous = out
    constant = numpy_helper.from_array(np.full(WIDTH, 0.999, np.float32), "c")
    return _model("chain", made, [constant])


def wide(nodes: int) -> onnx.ModelProto:
    branches = max(2, nodes // 2)
    made, scalars, level = [], [], []
    for index in range(branches):
        scalars.append(numpy_helper.from_array(np.array(1 + index * 1e-6, np.float32), f"s{index}"))
        made.append(helper.make_node("Mul", ["x", f"s{index}"], [f"b{index}"], name=f"m{index}"))
        level.append(f"b{index}")
    while len(level) > 1:
        paired = []
        for left, right in zip(level[::2], level[1::2], strict=False):
            out = f"t{len(made)}"
            made.append(helper.make_node("Add", [left, right], [out], name=f"a{len(made)}"))
            paired.append(out)
        level = paired + (level[-1:] if len(level) % 2 else [])
    made.append(helper.make_node("Identity", [level[0]], ["y"], name="out"))
    return _model("wide", made, scalars)


def _model(name: str, nodes: list, initializers: list) -> onnx.ModelProto:
    value = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, WIDTH])  # noqa: E731
    graph = helper.make_graph(nodes, name, [value("x")], [value("y")], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def model_path(shape: str, nodes: int) -> Path:
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"{shape}-{nodes}.onnx"
    if not path.exists():
        partial = path.with_suffix(".partial")
        onnx.save({"chain": chain, "wide": wide}[shape](nodes), partial)
        os.replace(partial, path)
    return path


def measure(command: list[str], timeout: float) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB of the child, and its exit code (-9: killed at timeout)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return time.perf_counter() - start, usage.ru_maxrss / 1024, child.returncode


def command_for(name: str, path: Path, out: Path) -> list[str]:
    graphkit = str(BIN / "graphkit")
    if name == "inspect":
        return [graphkit, "inspect", str(path), "--format", "json"]
    if name == "diagnose":
        return [graphkit, "diagnose", str(path), "-t", "ort", "--format", "json"]
    return [graphkit, "fix", str(path), "--target", "ort", "-o", str(out), "--format", "json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8000,25000,50000,100000,200000")
    parser.add_argument("--commands", default="diagnose,fix")
    parser.add_argument("--shapes", default="chain,wide")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'graph':7s} {'command':9s} {'nodes':>7s} {'seconds':>8s} {'peak MB':>8s} "
          f"{'ms/1k':>7s} {'MB/1k':>7s} exit")
    with tempfile.TemporaryDirectory() as scratch:
        for shape in args.shapes.split(","):
            for name in args.commands.split(","):
                per_node = []
                for size in sizes:
                    path = model_path(shape, size)
                    seconds, peak, code = measure(
                        command_for(name, path, Path(scratch) / "out.onnx"), args.timeout)
                    per_node.append(seconds / size)
                    print(f"{shape:7s} {name:9s} {size:7d} {seconds:8.2f} {peak:8.0f} "
                          f"{1e6 * seconds / size:7.2f} {1000 * peak / size:7.2f} {code}",
                          flush=True)
                growth = per_node[-1] / per_node[0]
                print(f"{shape:7s} {name:9s} seconds per node, {sizes[-1]} over {sizes[0]}: "
                      f"{growth:.2f}x (1.0 = linear)", flush=True)


if __name__ == "__main__":
    main()
