"""How long does diagnose take, next to the ONNX shape inference it must run anyway?

    python tools/bench_diagnose.py               # the 8,064-node transformer: ratio
    python tools/bench_diagnose.py --scaling     # also ~1k, 8k and 64k nodes: time per node

The ratio compares `graphkit.diagnose(model, "ort")` on the loaded model with
`onnx.shape_inference.infer_shapes` on the same model's proto, in one process, best of
--repeat runs each. The first diagnose in a process also reads onnxruntime's kernel
registry; that one-off cost is printed apart.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import transformer_onnx  # noqa: E402

import graphkit  # noqa: E402
from graphkit._ort_registry import ort_registry  # noqa: E402


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(blocks: int, repeat: int) -> dict[str, float]:
    path = transformer_onnx(blocks=blocks)
    nodes, infer = _time_inference(path, repeat)  # its proto (1.2 GB at 64k) is freed after
    model = graphkit.load(path)
    # At least twice: the first run on a fresh model also pays its page faults.
    diagnose = best_of(max(repeat, 2), lambda: graphkit.diagnose(model, "ort"))
    report = graphkit.diagnose(model, "ort")
    print(f"{nodes:>7,} nodes  infer_shapes {infer:7.3f} s  diagnose(ort) {diagnose:7.3f} s  "
          f"ratio {diagnose / infer:5.2f}x  {1e6 * diagnose / nodes:6.1f} us/node  "
          f"(convertible: {report.convertible}, {len(report.findings)} findings)")
    return {"nodes": nodes, "infer": infer, "diagnose": diagnose}


def _time_inference(path: Path, repeat: int) -> tuple[int, float]:
    proto = onnx.load(str(path))
    return len(proto.graph.node), best_of(repeat, lambda: onnx.shape_inference.infer_shapes(proto))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaling", action="store_true", help="also 6, 48 and 384 blocks")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    ort_registry()
    print(f"one-off: reading onnxruntime's kernel registry {time.perf_counter() - start:.3f} s")
    sizes = (6, 48, 384) if args.scaling else (48,)
    for blocks in sizes:
        compare(blocks, args.repeat if blocks < 384 else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
