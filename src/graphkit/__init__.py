"""graphkit: why a deep-learning model will not deploy, and the rewrite that fixes it.

Public API (kept small; tests/test_public_api.py guards it):
    load, save, diagnose, fix, convert, validate

Each name is imported on first use (PEP 562), so `import graphkit` and `graphkit --version`
load neither onnx nor onnx-ir; `graphkit.fix` costs its imports when it is first called.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx_ir as ir

    from graphkit.convert import convert, validate
    from graphkit.diagnose import diagnose
    from graphkit.errors import GraphkitError, InputError
    from graphkit.findings import Finding, Severity
    from graphkit.fixing import fix
    from graphkit.frontends import load
    from graphkit.report import Report

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "convert": "graphkit.convert",
    "validate": "graphkit.convert",
    "diagnose": "graphkit.diagnose",
    "fix": "graphkit.fixing",
    "load": "graphkit.frontends",
    "GraphkitError": "graphkit.errors",
    "InputError": "graphkit.errors",
    "Finding": "graphkit.findings",
    "Severity": "graphkit.findings",
    "Report": "graphkit.report",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'graphkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


class _Package(ModuleType):
    """graphkit.diagnose and graphkit.convert are functions, and modules of those names exist:
    importing such a module (the import system then sets it on the package) must not hide
    the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and _LAZY.get(name) == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def save(model: ir.Model, path: str | os.PathLike, **options: Any):
    """Write the model to `path` atomically (external data beside it when large)."""
    from graphkit.ir import save_onnx

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
