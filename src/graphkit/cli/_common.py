"""Helpers shared by the subcommands: output formats, progress, errors."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from graphkit._progress import listening
from graphkit._time_limit import DEFAULT_TIMEOUT

FORMATS = ("text", "json")


def fail(message: str, code: int) -> int:
    print(f"graphkit: error: {message}", file=sys.stderr)
    return code


def add_format_option(parser: argparse.ArgumentParser, choices=FORMATS) -> None:
    parser.add_argument("--format", choices=choices, default="text",
                        help="output format (json for CI; default: text)")


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="longest one run of a model may take; past it graphkit stops "
                             f"and names the node still running (default: {DEFAULT_TIMEOUT:g})")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_json"):
        return value.to_json()
    return str(value)


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


QUIET = {"on": False}  # `graphkit --quiet`: no progress at all, even on a terminal


@contextlib.contextmanager
def progress(description: str, *, enabled: bool = True) -> Iterator[Any]:
    """A spinner on stderr for work that may take over a second, showing the library's
    latest step (graphkit._progress); silent when not a terminal, or with --quiet."""
    err = Console(stderr=True)
    if not enabled or QUIET["on"] or not err.is_terminal:
        yield lambda *_args, **_kw: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(description)

        def update(text: str, *_args: Any) -> None:
            bar.update(task, description=f"{description}: {text}")

        with listening(update):
            yield update
