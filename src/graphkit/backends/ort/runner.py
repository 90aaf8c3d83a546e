"""Running what the ONNX Runtime emitter wrote (.onnx or .ort) on this machine's CPU."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx

from graphkit._quiet import ort_log_severity
from graphkit._time_limit import run_ort

# onnxruntime's Python API takes and returns numpy arrays, and numpy has no bfloat16, float8,
# int4 or int2 that it accepts: conformance cases with such data cannot be run from here.
FEEDS_NONSTANDARD_DTYPES = False

# ORT 1.32 crashes the process (SIGSEGV) building a session at ORT_ENABLE_ALL for some float16
# graphs: graphkit's 2-block benchmark transformer after the float16 pass does it; the same
# graph loads at ORT_ENABLE_EXTENDED, or at ALL with this fusion off. Sessions graphkit opens
# on float16 models keep it off.
FLOAT16_UNSAFE_OPTIMIZERS = ("MatmulTransposeFusion",)


def available() -> str | None:
    """None: onnxruntime (a dependency of graphkit) runs here; its CPU EP is always built in."""
    return None


def run_artifact(path: str | os.PathLike, feeds: dict[str, np.ndarray], *,
                 timeout: float | None = None) -> dict[str, np.ndarray]:
    """Run an emitted .onnx/.ort file with ONNX Runtime; outputs by name, in order.
    `timeout`: seconds the run may take (graphkit._time_limit)."""
    import onnxruntime as ort

    path = Path(path)
    unsafe = FLOAT16_UNSAFE_OPTIMIZERS if _file_has_float16(path) else ()
    options = ort.SessionOptions()
    options.log_severity_level = ort_log_severity()  # failures arrive as exceptions
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                   disabled_optimizers=list(unsafe))
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, run_ort(session, feeds, timeout)))


def _file_has_float16(path: Path) -> bool:
    """Whether an emitted .onnx declares float16 tensors (an .ort file was optimized when it
    was written, so it is not checked)."""
    if path.suffix.lower() != ".onnx":
        return False
    graph = onnx.load(str(path), load_external_data=False).graph
    half = onnx.TensorProto.FLOAT16
    typed = [*graph.input, *graph.output, *graph.value_info]
    return (any(v.type.tensor_type.elem_type == half for v in typed)
            or any(t.data_type == half for t in graph.initializer))
