"""TFLite frontend: what ONNX graph does tf2onnx make of this .tflite flatbuffer?

    graphkit.load("model.tflite")
    graphkit.load("model.tflite", inputs_as_nchw=["serving_default_image:0"], opset=17)

The file is only read. ONNX inputs and outputs keep the TFLite tensor names (the
names the TFLite interpreter reports), so feeds carry over unchanged. Layouts stay
NHWC unless `inputs_as_nchw` lists inputs, by those names, to take as NCHW.

Options: opset, inputs_as_nchw.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.frontends._common import check_opset, check_option_names
from graphkit.frontends._tf2onnx import check_tensorflow_installed
from graphkit.frontends._tflite_child import convert_in_child
from graphkit.ir._files import read_head

OPTIONS = ("opset", "inputs_as_nchw")
# A TFLite flatbuffer names its schema at bytes 4..8.
FILE_IDENTIFIER = b"TFL3"


def load_tflite(path: str | os.PathLike, **options: Any) -> ir.Model:
    """Convert a .tflite file with tf2onnx (in a child process) and return it with provenance."""
    check_option_names(options, OPTIONS, "a TFLite file")
    path = Path(path)
    _check_file(path)
    opset = check_opset(options.get("opset"))
    nchw = options.get("inputs_as_nchw")
    if nchw is not None and (isinstance(nchw, str) or not isinstance(nchw, (list, tuple))):
        raise InputError(f"option 'inputs_as_nchw' must be a list of input names, got {nchw!r}")
    check_tensorflow_installed()
    return convert_in_child(path, opset, list(nchw) if nchw else None)


def _check_file(path: Path) -> None:
    head = read_head(path)
    if head[4:8] != FILE_IDENTIFIER:
        raise InputError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
