"""Errors that graphkit reports to users as one clear line (CLI exit code 2)."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # terminal colours, which tf and torch errors carry


def first_line(err: BaseException | str | None, limit: int = 300) -> str:
    """The first line of an error's message (its type name when it has none), without
    terminal colour codes, cut to `limit` characters: how graphkit quotes a library's
    error inside its own one-line messages."""
    if err is None:
        return ""
    text = _ANSI.sub("", str(err)).strip() or type(err).__name__
    return text.splitlines()[0].strip()[:limit]


def quoted(names: list[str], limit: int = 3) -> str:
    """The first `limit` names, quoted, then '...' if there are more: a list in a message."""
    return ", ".join(f"'{name}'" for name in names[:limit]) + (", ..." if len(names) > limit
                                                                else "")


class GraphkitError(Exception):
    """Base class: the message is written for the user and printed as it is."""

    exit_code = 2


class InputError(GraphkitError):
    """The model, file or option the user gave cannot be used (names what and why)."""


class UnsafeModelError(InputError):
    """The model asks for something graphkit refuses to do (read outside its folder, unpickle)."""


class MissingDependencyError(GraphkitError):
    """An optional framework is needed for this job and is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'graphkit[{extra}]'"
        )
