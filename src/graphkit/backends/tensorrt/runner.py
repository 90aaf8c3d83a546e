"""Running a serialized TensorRT engine (.engine/.plan) on this machine's GPU.

Needs the `tensorrt` Python package and a CUDA device; `available()` says which is missing,
so that convert reports "not built, not validated" instead of guessing. Buffers live in
device memory through the CUDA runtime (graphkit.backends.tensorrt._cuda), inputs are
copied in, the engine runs once with the feeds' shapes, and outputs are copied back.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graphkit.errors import InputError

FEEDS_NONSTANDARD_DTYPES = False  # numpy has no bfloat16/float8 to feed an engine with


def available() -> str | None:
    """None when this environment can build and run engines; else why not."""
    if importlib.util.find_spec("tensorrt") is None:
        return ("the tensorrt Python package is not installed (its wheels fetch NVIDIA's "
                "libraries from outside PyPI)")
    from graphkit.backends.tensorrt import _cuda

    return _cuda.unavailable()


def run_artifact(path: str | os.PathLike, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Outputs by name, in the engine's order."""
    why_not = available()
    if why_not is not None:
        raise InputError(f"{path}: cannot run a TensorRT engine here: {why_not}")
    import tensorrt as trt

    from graphkit.backends.tensorrt._cuda import DeviceBuffers

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    logger = trt.Logger(trt.Logger.ERROR)
    trt.init_libnvinfer_plugins(logger, "")
    engine = trt.Runtime(logger).deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise InputError(f"{path}: TensorRT cannot deserialize it (another TensorRT version "
                         "or GPU built it, or it is no engine)")
    context = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if n not in inputs]
    missing = [name for name in inputs if name not in feeds]
    if missing:
        raise InputError(f"{path}: no value for input(s) {missing}")
    with DeviceBuffers() as buffers:
        for name in inputs:
            dtype = trt.nptype(engine.get_tensor_dtype(name))
            array = np.ascontiguousarray(feeds[name], dtype=dtype)
            if not context.set_input_shape(name, array.shape):
                raise InputError(f"{path}: input '{name}' shape {array.shape} is outside the "
                                 "engine's optimization profile")
            context.set_tensor_address(name, buffers.upload(array))
        shapes = {name: tuple(context.get_tensor_shape(name)) for name in outputs}
        _refuse_data_dependent(path, shapes)
        for name in outputs:
            dtype = trt.nptype(engine.get_tensor_dtype(name))
            context.set_tensor_address(name, buffers.allocate(name, shapes[name], dtype))
        if not context.execute_async_v3(0):
            raise InputError(f"{path}: TensorRT failed to run the engine")
        return {name: buffers.download(name) for name in outputs}


def _refuse_data_dependent(path: Path, shapes: Mapping[str, tuple[int, ...]]) -> None:
    unknown = [name for name, shape in shapes.items() if any(dim < 0 for dim in shape)]
    if unknown:
        raise InputError(f"{path}: output(s) {unknown} have data-dependent shapes, which "
                         "graphkit's runner does not allocate (run them with polygraphy)")
