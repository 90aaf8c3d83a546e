"""Progress of long work, told to whoever listens: the CLI's spinner, a test, or nobody.

Library code says what it is doing with `step("proving fold-constants")`; it knows nothing of
terminals. The CLI listens around a command (`listening(update)`) and shows the latest step
beside its spinner. The listener is a context variable, so threads and nested commands do
not see each other's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_listener: ContextVar[Callable[[str], None] | None] = ContextVar("graphkit_progress", default=None)


def step(text: str) -> None:
    """Say what is starting now (a few words: 'emitting tflite', 'pass fuse')."""
    listener = _listener.get()
    if listener is not None:
        listener(text)


@contextlib.contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Send the steps taken inside the block to `callback`."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)
