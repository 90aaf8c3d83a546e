"""The models the fuzzer mutates: the ONNX backend node cases and the 'light' model-zoo models.

The node cases are built in memory by onnx's own case generators (the wheel no longer ships
their files); the light models are files in the onnx wheel (IR-3, initializers that are also
graph inputs). The list is sorted by name, so a seed picks the same models everywhere.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx

DATA_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data"


def load_corpus() -> list[tuple[str, bytes]]:
    """(name, serialized model) for every node case and light model, sorted by name."""
    return sorted(_node_cases() + _light_models())


def _node_cases() -> list[tuple[str, bytes]]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():  # the case generators overflow casts on purpose
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    return [(f"node/{case.name}", case.model.SerializeToString()) for case in cases]


def _light_models() -> list[tuple[str, bytes]]:
    return [(f"light/{path.stem}", path.read_bytes())
            for path in sorted(DATA_DIR.glob("light/*.onnx"))]
