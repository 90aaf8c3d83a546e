"""The smallest part of a model that still fails: bisect it, as Polygraphy's `debug reduce`.

    result = graphkit.reduce.reduce_model("model.onnx", convert_check("tflite"))
    result.node, result.reason, result.model       # the failing node, why, the small model

A check takes a candidate model's path and returns why it fails (None when it passes):
`convert_check(target)` converts and validates it; `command_check("tool {model}")` runs a
command of the user's and reads its exit status, for runtimes graphkit cannot run here.

The search assumes that a run of nodes containing the failing one fails too. First the end:
the shortest prefix (in topological order) that fails, by bisection; its last node is the
failing one. Then the start: the latest first node that still fails, the values it reads
from before becoming inputs. Then the branches: where the part left has several outputs,
one whose own cone fails is kept, and the start is bisected again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from graphkit._output import check_output_path, staged_file
from graphkit._reduce_checks import Check, command_check, convert_check
from graphkit._subgraph import Slicer
from graphkit.errors import InputError
from graphkit.frontends import load
from graphkit.ir._save import inline_proto

__all__ = ["Check", "NothingToReduce", "Reduction", "command_check", "convert_check",
           "reduce_model", "write_model"]


@dataclass
class Reduction:
    model: onnx.ModelProto  # the smallest failing part
    node: str  # the failing node: the last of the part, whose addition makes it fail
    op: str
    reason: str  # why the part fails, as the check said
    nodes_before: int
    tries: int

    @property
    def nodes_after(self) -> int:
        return len(self.model.graph.node)

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "reason": self.reason,
                "nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
                "tries": self.tries}


class NothingToReduce(Exception):
    """The whole model passes the check."""


class _Search:
    """Runs the check on candidate parts, once each, in a private folder."""

    def __init__(self, slicer: Slicer, check: Check, folder: Path, same: Callable[[str], bool],
                 on_try: Callable[[int], None]) -> None:
        self.slicer, self.check, self.folder, self.same = slicer, check, folder, same
        self.on_try = on_try
        self.seen: dict[tuple[int, int, tuple[str, ...] | None], str | None] = {}
        self.tries = 0

    def fails(self, start: int, end: int, outputs: list[str] | None = None) -> str | None:
        key = (start, end, tuple(outputs) if outputs is not None else None)
        if key not in self.seen:
            self.seen[key] = self._run(start, end, outputs)
        return self.seen[key]

    def _run(self, start: int, end: int, outputs: list[str] | None) -> str | None:
        part = self.slicer.cut(start, end, outputs)
        if part is None:  # a value it would read has no known type: not a model to try
            return None
        self.tries += 1
        self.on_try(self.tries)
        path = self.folder / f"part_{self.tries}.onnx"
        onnx.save(part, path)
        reason = self.check(path)
        path.unlink(missing_ok=True)
        return reason if reason is not None and self.same(reason) else None


def reduce_model(source: Any, check: Check, *, on_try: Callable[[int], None] = lambda _n: None
                 ) -> Reduction:
    """The smallest run of `source`'s nodes that `check` still fails. NothingToReduce when
    the whole model passes it."""
    proto = inline_proto(load(source))
    nodes = len(proto.graph.node)
    if nodes == 0:
        raise InputError("the model has no nodes to reduce")
    with tempfile.TemporaryDirectory(prefix="graphkit-reduce-") as folder:
        whole = Path(folder) / "model.onnx"
        onnx.save(proto, whole)
        reason = check(whole)
        if reason is None:
            raise NothingToReduce("the model passes the check: nothing to reduce")
        kind = failure_kind(reason)
        search = _Search(Slicer.of(proto), check, Path(folder),
                         lambda text: failure_kind(text) == kind, on_try)
        start, end, outputs = _bisect(search, nodes)
    part = search.slicer.cut(start, end, outputs)
    last = search.slicer.nodes[end]
    found = search.fails(start, end, outputs) if part is not None else None
    if part is None or found is None:  # only the whole model fails
        part, last, found = proto, proto.graph.node[-1], reason
    return Reduction(part, last.name or f"#{end} {last.op_type}", last.op_type, found,
                     nodes, search.tries + 1)


def _bisect(search: _Search, nodes: int) -> tuple[int, int, list[str] | None]:
    end = _shortest_prefix(search, nodes)
    start = _latest_start(search, end, None)
    frontier = search.slicer.frontier(start, end)
    if len(frontier) > 1:  # branches: one output's cone may fail alone
        for name in frontier:
            if search.fails(start, end, [name]) is not None:
                return _latest_start(search, end, [name]), end, [name]
    return start, end, None


def _shortest_prefix(search: _Search, nodes: int) -> int:
    low, high = 0, nodes - 1  # nodes [0, high] fail: the whole model does
    while low < high:
        middle = (low + high) // 2
        if search.fails(0, middle) is not None:
            high = middle
        else:
            low = middle + 1
    return high


def _latest_start(search: _Search, end: int, outputs: list[str] | None) -> int:
    low, high = 0, end  # starting at `low` fails
    while low < high:
        middle = (low + high + 1) // 2
        if search.fails(middle, end, outputs) is not None:
            low = middle
        else:
            high = middle - 1
    return low


def failure_kind(reason: str) -> str:
    """What kind of failure a reason is ('convert', 'mismatch', 'check exits 3', ...): a part
    that fails another way (a cut that cannot run at all, say) is not the failure sought."""
    return reason.split(":", 1)[0]


def write_model(model: onnx.ModelProto, output: str | os.PathLike) -> Path:
    """Check and write the reduced model atomically."""

    output = check_output_path(output, (".onnx",), "the reduced model")
    onnx.checker.check_model(model)
    with staged_file(output) as temp:
        onnx.save(model, temp)
    return output
