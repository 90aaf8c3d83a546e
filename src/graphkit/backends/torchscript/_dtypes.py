"""ONNX element types <-> torch dtypes <-> numpy dtypes."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch

TORCH_DTYPES: dict[ir.DataType, torch.dtype] = {
    ir.DataType.FLOAT: torch.float32,
    ir.DataType.DOUBLE: torch.float64,
    ir.DataType.FLOAT16: torch.float16,
    ir.DataType.BFLOAT16: torch.bfloat16,
    ir.DataType.INT8: torch.int8,
    ir.DataType.INT16: torch.int16,
    ir.DataType.INT32: torch.int32,
    ir.DataType.INT64: torch.int64,
    ir.DataType.UINT8: torch.uint8,
    ir.DataType.UINT16: torch.uint16,
    ir.DataType.UINT32: torch.uint32,
    ir.DataType.UINT64: torch.uint64,
    ir.DataType.BOOL: torch.bool,
}


def torch_dtype(dtype: ir.DataType | int) -> torch.dtype:
    return TORCH_DTYPES[ir.DataType(dtype)]


def to_torch(array: np.ndarray) -> torch.Tensor:
    """A torch tensor that owns a copy of the array (numpy views may be read-only)."""
    array = np.asarray(array)
    if array.dtype.kind == "V" or str(array.dtype) == "bfloat16":
        # ml_dtypes bfloat16: same bits as torch.bfloat16.
        return torch.from_numpy(array.view(np.uint16).copy()).view(torch.bfloat16)
    return torch.from_numpy(np.array(array, copy=True, order="C"))


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        return tensor.float().numpy()
    return tensor.numpy()
