"""Errors that graphkit reports to users as one clear line (CLI exit code 2)."""

from __future__ import annotations


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
