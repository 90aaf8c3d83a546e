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
from graphkit.frontends._provenance import Provenance, stamp
from graphkit.frontends._tf2onnx import (
    check_nchw_names,
    check_tensorflow_installed,
    import_tensorflow,
    name_unknown_dims,
    run_tf2onnx,
)
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


def convert(path: Path, opset: int | None, nchw: list[str] | None) -> ir.Model:
    """The conversion itself, run by the child process (see _tflite_child)."""
    tf, tf2onnx = import_tensorflow()
    model = run_tf2onnx(
        tf2onnx.convert.from_tflite,
        str(path),
        tflite_path=str(path),
        opset=opset,
        inputs_as_nchw=nchw,
    )
    if nchw:
        # tf2onnx skips names it does not know: check them against the inputs it made
        # (NCHW and NHWC have the same rank, so the converted shape answers for both).
        ranks = {v.name: None if v.shape is None else len(v.shape) for v in model.graph.inputs}
        check_nchw_names(nchw, ranks)
    name_unknown_dims(model, batch_first=False)
    provenance = Provenance("tflite", tf.__version__, "tf2onnx", tf2onnx.__version__, str(path))
    return stamp(model, provenance)


def _check_file(path: Path) -> None:
    head = read_head(path)
    if head[4:8] != FILE_IDENTIFIER:
        raise InputError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
