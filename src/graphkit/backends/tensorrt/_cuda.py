"""Device memory for the TensorRT runner, through the CUDA runtime library (ctypes).

TensorRT's Python API takes device pointers and brings no allocator of its own; its pip
wheels depend on NVIDIA's CUDA runtime wheel, so libcudart is there wherever `tensorrt`
is. Only the five calls the runner needs are bound: malloc, memcpy, free, device count and
synchronize.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
from typing import Any

import numpy as np

from graphkit.errors import InputError

HOST_TO_DEVICE, DEVICE_TO_HOST = 1, 2  # cudaMemcpyKind


def _candidates() -> list[str]:
    """libcudart from NVIDIA's wheels (nvidia/cuda_runtime/lib, nvidia/cu13/lib), then the
    system's."""
    found = []
    for folder in sys.path:
        found += sorted(glob.glob(os.path.join(folder, "nvidia", "*", "lib", "libcudart.so*")))
    system = ctypes.util.find_library("cudart")
    return found + ([system] if system else []) + ["libcudart.so"]


def _library() -> Any | None:
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def unavailable() -> str | None:
    """None when a CUDA device can be used; else why not."""
    cudart = _library()
    if cudart is None:
        return "the CUDA runtime library (libcudart) is not found"
    count = ctypes.c_int(0)
    if cudart.cudaGetDeviceCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "no CUDA GPU is visible"
    return None


class DeviceBuffers:
    """Device allocations for one run, freed when the block ends."""

    def __init__(self) -> None:
        self._cudart = _library()
        if self._cudart is None:
            raise InputError("the CUDA runtime library (libcudart) is not found")
        self._cudart.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        self._cudart.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_int]
        self._cudart.cudaFree.argtypes = [ctypes.c_void_p]
        self._pointers: list[int] = []
        self._outputs: dict[str, tuple[int, tuple[int, ...], Any]] = {}

    def __enter__(self) -> DeviceBuffers:
        return self

    def __exit__(self, *exc: object) -> None:
        for pointer in self._pointers:
            self._cudart.cudaFree(ctypes.c_void_p(pointer))

    def _malloc(self, size: int) -> int:
        pointer = ctypes.c_void_p()
        # A zero-size tensor still needs a valid address.
        self._check(self._cudart.cudaMalloc(ctypes.byref(pointer), max(size, 1)), "cudaMalloc")
        self._pointers.append(pointer.value)
        return pointer.value

    def upload(self, array: np.ndarray) -> int:
        pointer = self._malloc(array.nbytes)
        self._check(self._cudart.cudaMemcpy(pointer, array.ctypes.data, array.nbytes,
                                            HOST_TO_DEVICE), "cudaMemcpy")
        return pointer

    def allocate(self, name: str, shape: tuple[int, ...], dtype: Any) -> int:
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        pointer = self._malloc(size)
        self._outputs[name] = (pointer, shape, dtype)
        return pointer

    def download(self, name: str) -> np.ndarray:
        """The output's values, after the run (cudaMemcpy waits for the default stream)."""
        pointer, shape, dtype = self._outputs[name]
        array = np.empty(shape, dtype=dtype)
        self._check(self._cudart.cudaMemcpy(array.ctypes.data, pointer, array.nbytes,
                                            DEVICE_TO_HOST), "cudaMemcpy")
        return array

    @staticmethod
    def _check(status: int, call: str) -> None:
        if status != 0:
            raise InputError(f"CUDA {call} failed (cudaError {status})")
