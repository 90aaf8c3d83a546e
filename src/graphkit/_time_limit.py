"""Time limits on model runs: a Loop whose condition never turns false must not hang graphkit.

Every run of a model (the reference, each proof, the artifact check) gets a limit; past it
the run stops and graphkit says which node was still running (exit 2).

- ONNX Runtime: `RunOptions.terminate`, set from a timer thread. ORT checks the flag between
  nodes, and a Loop checks it between iterations, so a Loop that never ends stops within an
  iteration of the limit.
- onnx's reference evaluator is Python with no such flag, so the timer raises an exception
  in the thread that runs it (PyThreadState_SetAsyncExc: delivered at the next bytecode the
  thread runs; a long numpy call finishes first). The exception derives from BaseException
  so that no `except Exception` inside the evaluator swallows it.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from graphkit._quiet import ort_log_severity
from graphkit.errors import InputError

if TYPE_CHECKING:  # onnx costs ~0.7 s to import; the CLI's --help reads DEFAULT_TIMEOUT
    import onnx

DEFAULT_TIMEOUT = 120.0  # seconds: generous; an 8,064-node transformer runs in ~1 s

T = TypeVar("T")


class RunTimeout(InputError):
    """A model run did not finish within the time limit; the message names the node."""


@dataclass
class Deadline:
    """One limit shared by several runs (the candidate inputs the shape search tries)."""

    seconds: float | None
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float | None:
        """Seconds left (at least 0), or None for no limit."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (time.monotonic() - self.started))


def check_timeout(seconds: float | None) -> float | None:
    """The user's --timeout / timeout=, checked: a positive number of seconds, or None."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise InputError(f"timeout must be a positive number of seconds, not {seconds!r}")
    return float(seconds)


def run_ort(session: Any, feeds: dict[str, Any], seconds: float | None,
            graph: onnx.GraphProto | None = None, limit: float | None = None) -> list[Any]:
    """session.run, stopped after `seconds` through RunOptions.terminate. `graph`: the
    session's, to say which node an unnamed one is; `limit`: the limit to quote when
    `seconds` is what is left of it."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = ort_log_severity()  # failures surface as exceptions
    if seconds is None:
        return session.run(None, feeds, options)
    timer = threading.Timer(seconds, setattr, (options, "terminate", True))
    timer.daemon = True
    timer.start()
    try:
        return session.run(None, feeds, options)
    except Exception as err:
        if not options.terminate:
            raise
        raise _timeout(limit or seconds, _ort_running_node(str(err), graph)) from None
    finally:
        timer.cancel()


class _Expired(BaseException):
    """Raised inside a reference-evaluator run by its timer."""


class _Watch:
    """Raises _Expired in one thread once the time is up, unless that thread finished first.

    Both sides hold the lock, so the exception is only ever raised while the run is going
    on; if it is still pending when the run ends, `finish` cancels it."""

    def __init__(self, thread_id: int) -> None:
        self._thread = ctypes.c_ulong(thread_id)
        self._lock = threading.Lock()
        self._running = True
        self.expired = False

    def expire(self) -> None:
        with self._lock:
            if self._running:
                self.expired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(self._thread, ctypes.py_object(_Expired))

    def finish(self) -> None:
        with self._lock:
            self._running = False
            if self.expired:  # clear it if it has not been delivered yet
                ctypes.pythonapi.PyThreadState_SetAsyncExc(self._thread, None)


def run_python(run: Callable[[], T], seconds: float | None, limit: float | None = None) -> T:
    """run(), stopped after `seconds` by an exception raised in this thread. `limit`: as
    for run_ort."""
    if seconds is None:
        return run()
    watch = _Watch(threading.get_ident())
    timer = threading.Timer(seconds, watch.expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            result = run()
        finally:
            timer.cancel()
            watch.finish()
    except _Expired as expired:
        raise _timeout(limit or seconds, _evaluator_running_node(expired.__traceback__)) from None
    if watch.expired:  # the time ran out as the run ended: its result is not trusted either
        raise _timeout(limit or seconds, "the model")
    return result


def _timeout(seconds: float, what: str) -> RunTimeout:
    return RunTimeout(
        f"{what} did not finish within {seconds:g} s (a loop that never ends?); "
        "allow more time with --timeout SECONDS"
    )


def _ort_running_node(message: str, graph: onnx.GraphProto | None) -> str:
    """The node ORT's message names ('... while running Loop node. Name:'loop0' ...')."""
    found = re.search(r"while running (\w+) node\. Name:'([^']*)'", message)
    if not found:
        return "the model"
    return _describe(found.group(1), found.group(2), graph)


def _describe(op_type: str, name: str, graph: onnx.GraphProto | None) -> str:
    if name:
        return f"{op_type} node '{name}'"
    same = [node for node in graph.node if node.op_type == op_type] if graph else []
    if len(same) == 1 and same[0].output:  # an unnamed node: say what it computes
        return f"{op_type} node (unnamed, computes '{same[0].output[0]}')"
    return f"a {op_type} node (unnamed)"


def _evaluator_running_node(trace: TracebackType | None) -> str:
    """The outermost node the reference evaluator was running (a Loop, not its body's Add)."""
    import onnx
    from onnx.reference.op_run import OpRun

    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        if isinstance(owner, OpRun):
            node = owner.onnx_node
            return _describe(node.op_type, node.name, onnx.GraphProto(node=[node]))
        trace = trace.tb_next
    return "the model"
