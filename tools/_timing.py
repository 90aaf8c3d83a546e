"""Timing the benchmarks share: candidates interleaved within each round, so that a busy
moment of a shared machine slows them alike."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved_seconds(fns: dict[str, Callable[[], object]], repeats: int, *,
                        warmups: int = 1) -> dict[str, list[float]]:
    """Each candidate's times, one per round, after `warmups` untimed calls of each."""
    for fn in fns.values():
        for _ in range(warmups):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples
