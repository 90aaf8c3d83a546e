"""In how many pieces does a target run the graph? Supported nodes grouped like onnxruntime does.

A partition is a maximal group of supported nodes that can run as one piece in
topological order. The grouping follows onnxruntime's partitioning utility (the one its
mobile usability checker reports): a topological walk that takes every ready supported
node before any unsupported one, and closes the current group when it must step
through an unsupported node.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Partitions:
    nodes: int  # top-level nodes in the graph
    supported: int  # of which the target runs
    count: int  # groups of supported nodes
    largest: int  # nodes in the biggest group

    def to_json(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "supported": self.supported,
                "count": self.count, "largest": self.largest}


def partition(supported: Sequence[bool], edges: Sequence[tuple[int, int]]) -> Partitions:
    """Group node indices 0..n-1; `edges` are (producer, consumer) pairs, duplicates allowed."""
    size = len(supported)
    successors: list[list[int]] = [[] for _ in range(size)]
    indegree = [0] * size
    for source, dest in set(edges):
        successors[source].append(dest)
        indegree[dest] += 1
    ready = {True: deque(), False: deque()}
    for index in range(size):
        if indegree[index] == 0:
            ready[supported[index]].append(index)
    groups: list[int] = []
    current = 0

    def release(index: int) -> None:
        for dest in successors[index]:
            indegree[dest] -= 1
            if indegree[dest] == 0:
                ready[supported[dest]].append(dest)

    while ready[True] or ready[False]:
        if ready[True]:
            current += 1
            release(ready[True].popleft())
            continue
        if current:
            groups.append(current)
            current = 0
        # Step through every unsupported node ready now, so the next group is as big as it can be.
        for _ in range(len(ready[False])):
            release(ready[False].popleft())
    if current:
        groups.append(current)
    return Partitions(size, sum(supported), len(groups), max(groups, default=0))
