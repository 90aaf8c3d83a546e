"""The checks `graphkit reduce` bisects against: graphkit's own convert, or a user's command.

A check returns why the model fails as 'KIND: detail' (None when it passes); reduce keeps
only parts that fail with the KIND the whole model failed with, so a part that cannot even
run (a cut with inputs no shape suits) does not pass for the failure sought.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from graphkit.backends import emitter, runner
from graphkit.convert import convert
from graphkit.errors import GraphkitError, InputError, first_line

Check = Callable[[Path], "str | None"]  # a model's path -> why it fails, None if it passes

# Messages that say the part itself cannot run, whatever the target: not the failure sought.
UNRUNNABLE = ("could not find input shapes", "does not run on the given inputs",
              "the model cannot be run", "is not valid ONNX")
DEFAULT_CHECK_TIMEOUT = 300.0


def convert_check(target: str, *, timeout: float | None, rtol: float, atol: float) -> Check:
    """Fails where `graphkit convert --to target` fails, or writes an artifact that differs."""

    suffix = emitter(target).SUFFIXES[0]  # InputError for a target without an emitter
    missing = runner(target).available()
    if missing:  # an artifact that cannot run here fails no check: it would reduce to nothing
        raise InputError(f"{target} artifacts cannot be run here ({missing}); reduce against a "
                         "command that can, with --check \"cmd {model}\"")

    def fails(path: Path) -> str | None:
        with tempfile.TemporaryDirectory(prefix="graphkit-reduce-") as folder:
            try:
                artifact = convert(path, target, Path(folder) / f"part{suffix}", rtol=rtol,
                                   atol=atol, timeout=timeout)
            except GraphkitError as err:
                return _convert_failure(first_line(err))
            except Exception as err:  # noqa: BLE001 (a crash in graphkit is a failure to find)
                return f"crash {type(err).__name__}: {first_line(err)}"
        wrong = [diff for diff in artifact.validation if not diff.ok]
        if not wrong and artifact.validation:
            return None
        detail = (f"output '{wrong[0].name}' differs (max abs {wrong[0].max_abs:.3g})" if wrong
                  else "nothing to compare")
        return f"mismatch: {detail}"

    return fails


def _convert_failure(message: str) -> str:
    if any(text in message for text in UNRUNNABLE):
        return f"unrunnable: {message}"
    op = re.search(r"node '[^']*' \((\w+)\)", message)
    return f"convert failed at {op.group(1)}: {message}" if op else f"convert failed: {message}"


def command_check(command: str, *, timeout: float = DEFAULT_CHECK_TIMEOUT) -> Check:
    """Fails where the command exits non-zero (or runs past `timeout`). The command is split
    as a shell would (shlex) but run without one, '{model}' replaced by the part's path."""
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise InputError(f"--check: cannot split {command!r} ({err})") from None
    if not argv or not any("{model}" in arg for arg in argv):
        raise InputError(f"--check: the command must name the model as {{model}}, "
                         f"e.g. --check \"mytool {{model}}\" (got {command!r})")

    def fails(path: Path) -> str | None:
        args = [arg.replace("{model}", str(path)) for arg in argv]
        try:
            done = subprocess.run(args, capture_output=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise InputError(f"--check: no such command '{argv[0]}'") from None
        except PermissionError:
            raise InputError(f"--check: cannot run '{argv[0]}' (permission denied)") from None
        except subprocess.TimeoutExpired:
            return f"check timed out: it ran past {timeout:g} s"
        if done.returncode == 0:
            return None
        return f"check exits {done.returncode}: {_last_line(done.stderr or done.stdout)}"

    return fails


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"
