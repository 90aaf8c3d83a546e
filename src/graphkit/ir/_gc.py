"""Pause Python's cyclic garbage collector while the IR is built or serialized."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Building the IR allocates ~10 container objects per node and frees none, so the cyclic
    collector would walk every live object again and again for nothing. Measured on the
    8,064-node benchmark: load 0.42 s -> 0.20 s CPU with another model alive, save 0.29 -> 0.23.
    The previous state is restored, so a caller that disabled collection keeps it disabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
