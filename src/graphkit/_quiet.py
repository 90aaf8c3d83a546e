"""The user sees graphkit's output only: the libraries' own logs and warnings stay out of it,
unless the CLI runs with --debug.

Every setting is here:
- the CLI entry wraps each command in `cli_output(debug)`: Python warnings (numpy's, torch's,
  TensorFlow's) and Python logging (onnx-ir, tf2onnx, absl) are off for the command;
- TensorFlow and absl log from C++, straight to file descriptor 2, from the moment TensorFlow
  is imported (TF_CPP_MIN_LOG_LEVEL=3 does not stop absl's lines): the TensorFlow frontends
  run inside `native_logs_off()`, which points descriptor 2 at /dev/null for the duration;
- ONNX Runtime's sessions log at `ort_log_severity()`: its failures reach graphkit as
  exceptions, which graphkit reports in its own words.
A failure in any of them still reaches the user, as graphkit's one line (the traceback under
--debug). `--debug` turns all of this off for the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

# Set once, by the CLI's --debug: logging is process state, so this switch is too.
_library_logs_shown = False

ORT_QUIET, ORT_WARNINGS = 4, 2  # ONNX Runtime's severities: 4 fatal only, 2 warnings and up


def show_library_logs() -> None:
    """Let every library log as it would without graphkit (the CLI's --debug)."""
    global _library_logs_shown
    _library_logs_shown = True


def ort_log_severity() -> int:
    """The log severity graphkit's ONNX Runtime sessions and runs use."""
    return ORT_WARNINGS if _library_logs_shown else ORT_QUIET


@contextlib.contextmanager
def native_logs_off() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the duration: what C++ libraries print there."""
    if _library_logs_shown:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def cli_output(debug: bool) -> Iterator[None]:
    """One CLI command's run: library warnings and Python logging off, or (debug) all on."""
    if debug:
        show_library_logs()
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)
