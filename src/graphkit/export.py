"""export = load through the frontends once, and write the ONNX graphkit works on.

Loading a Keras file, a SavedModel or a .tflite goes through tf2onnx (7-45 s); a .pt2
through torch's exporter. The written file keeps graphkit's provenance and the example
input shapes in its metadata, so every later command reads it in milliseconds and
validation still feeds the shapes the model was exported with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx_ir as ir

from graphkit._output import check_output_path
from graphkit.errors import InputError
from graphkit.frontends import load
from graphkit.ir import save_onnx


def export(source: Any, output: str | os.PathLike, **options: Any) -> tuple[ir.Model, Path]:
    """Load `source` (any path or object graphkit.load takes, with its options) and write it
    to `output` (.onnx) atomically. The source is only read."""
    output = check_output_path(output, (".onnx",), "the exported model")
    if isinstance(source, (str, os.PathLike)) and _same_file(Path(source), output):
        raise InputError(f"{output}: is the input model; graphkit never overwrites its input "
                         "(choose another output path)")
    model = load(source, **options)
    return model, save_onnx(model, output)


def _same_file(source: Path, output: Path) -> bool:
    return source.exists() and output.exists() and os.path.samefile(source, output)
