"""Safe load and atomic save of ONNX models in onnx-ir form."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import onnx
import onnx_ir as ir
from google.protobuf.message import DecodeError

from graphkit.errors import InputError, UnsafeModelError
from graphkit.ir._external import check_external_data, resolve_inside

# Protobuf cannot serialize a message over 2 GiB; past this many tensor bytes we write
# the weights as external data beside the model.
EXTERNAL_DATA_THRESHOLD = 1 << 30


def load_onnx(path: str | os.PathLike) -> ir.Model:
    """Load an ONNX file after checking that its external data stays in its folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an ONNX file")
    try:
        proto = onnx.load(os.fspath(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError) as err:
        raise InputError(f"{path}: not a readable ONNX model ({_first_line(err)})") from None
    if not proto.graph.node and not proto.graph.output:
        raise InputError(f"{path}: not an ONNX model (no graph found in the file)")
    check_external_data(proto, path.parent)
    return model_from_proto(proto, base_dir=path.parent, origin=str(path))


def model_from_proto(
    proto: onnx.ModelProto, *, base_dir: str | os.PathLike | None = None, origin: str = "<model>"
) -> ir.Model:
    try:
        model = ir.serde.deserialize_model(proto)
    except Exception as err:  # onnx-ir raises several types for malformed graphs
        raise InputError(f"{origin}: malformed ONNX graph ({_first_line(err)})") from None
    if base_dir is not None:
        ir.external_data.set_base_dir(model.graph, os.fspath(base_dir))
    return model


def load_onnx_bytes(data: bytes, origin: str = "<bytes>") -> ir.Model:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as err:
        raise InputError(f"{origin}: not a readable ONNX model ({_first_line(err)})") from None
    for tensor_check in (check_external_data,):
        # Bytes have no folder: any external reference would be resolved against the
        # working directory, which is not the model's to read.
        tensor_check(proto, tempfile.mkdtemp(prefix="graphkit-empty-"))
    return model_from_proto(proto, origin=origin)


def save_onnx(model: ir.Model, path: str | os.PathLike, *, external_data: bool | None = None) -> Path:
    """Write the model atomically; weights go to `<name>.data` beside it when large.

    external_data=None decides by size. The files appear under their final names only
    once complete: everything is written in a temporary folder beside the output first.
    """
    path = Path(path)
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise InputError(f"{path}: output folder {str(folder)!r} does not exist")
    if external_data is None:
        external_data = _tensor_bytes(model) > EXTERNAL_DATA_THRESHOLD
    data_name = f"{path.name}.data" if external_data else None
    if data_name is not None:
        resolve_inside(folder, data_name, what=f"{path} external data")
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=folder))
    try:
        staged = staging / path.name
        ir.save(model, staged, external_data=data_name)
        if data_name is not None:
            os.replace(staging / data_name, folder / data_name)
        os.replace(staged, folder / path.name)
    except UnsafeModelError:
        raise
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _tensor_bytes(model: ir.Model) -> int:
    return sum(
        value.const_value.nbytes
        for value in model.graph.initializers.values()
        if value.const_value is not None
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:200]


def copy_model(model: ir.Model) -> ir.Model:
    """An independent copy (through the proto), external tensors still read from their folder."""
    base_dirs = {
        value.const_value.base_dir
        for value in model.graph.initializers.values()
        if isinstance(value.const_value, ir.ExternalTensor)
    }
    copy = ir.serde.deserialize_model(ir.to_proto(model))
    if len(base_dirs) == 1:
        ir.external_data.set_base_dir(copy.graph, base_dirs.pop())
    return copy
