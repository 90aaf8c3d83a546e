"""graphkit: why a deep-learning model will not deploy, and the rewrite that fixes it.

Public API (kept small; tests/test_public_api.py guards it):
    load, save, diagnose, fix, convert, validate
"""

from __future__ import annotations

import os
from typing import Any

import onnx_ir as ir

# Imported eagerly: a function named like its module must be bound after the module is.
from graphkit.convert import convert, validate
from graphkit.diagnose import diagnose
from graphkit.errors import GraphkitError, InputError
from graphkit.findings import Finding, Severity
from graphkit.fixing import fix
from graphkit.frontends import load
from graphkit.ir import save_onnx
from graphkit.report import Report

__version__ = "0.1.0"


def save(model: ir.Model, path: str | os.PathLike, **options: Any):
    """Write the model to `path` atomically (external data beside it when large)."""
    return save_onnx(model, path, **options)


__all__ = [
    "Finding",
    "GraphkitError",
    "InputError",
    "Report",
    "Severity",
    "__version__",
    "convert",
    "diagnose",
    "fix",
    "load",
    "save",
    "validate",
]
