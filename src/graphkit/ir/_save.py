"""Write a model atomically, with its weights inline or in one data file beside it.

Everything is first written into a staging folder inside the output's folder, then moved
into place with os.replace, so a reader never sees half a file and a failed save leaves
the old files as they were. That also makes saving over the model's own input safe: its
weights are memory-mapped from the old data file while the new one is written elsewhere.
(The two files are replaced one after the other; there is no atomic swap of a pair.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Container, Iterable, Iterator
from pathlib import Path

import onnx
import onnx_ir as ir

from graphkit._output import publish
from graphkit.errors import InputError, UnsafeModelError
from graphkit.ir._external import resolve_inside
from graphkit.ir._gc import collector_paused
from graphkit.ir._stream import PROTOBUF_LIMIT, write_model

# Protobuf cannot serialize a message over 2 GiB; past this many tensor bytes the weights
# go to a data file beside the model unless the caller says otherwise.
EXTERNAL_DATA_THRESHOLD = 1 << 30
# With external data, tensors up to this size stay in the .onnx, so that tools reading only
# the graph still see small constants such as shapes.
INLINE_TENSOR_MAX_BYTES = 1024


def save_onnx(
    model: ir.Model, path: str | os.PathLike, *, external_data: bool | str | None = None
) -> Path:
    """Write `model` to `path`; return the path.

    external_data: None decides by size; True writes weights to `<name>.data` beside the
    model; a string names that file, relative to the output's folder (refused if it leads
    outside it); False keeps everything in the one file.
    """
    path = Path(path)
    folder = _output_folder(path)
    data_name = _data_file_name(model, path, folder, external_data)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=folder))
    try:
        with collector_paused():
            _write(model, staging, path, data_name, folder)
        publish(staging / path.name, folder / path.name)
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise InputError(f"{path}: cannot save: {err.strerror or err}{where}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _write(model: ir.Model, staging: Path, path: Path, data_name: str | None, folder: Path) -> None:
    if data_name is None:
        _write_inline(model, staging / path.name, path)
    else:
        _write_external(model, staging, path.name, data_name, folder)


def _output_folder(path: Path) -> Path:
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise InputError(f"{path}: output folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name to write the model to")
    return folder


def _data_file_name(
    model: ir.Model, path: Path, folder: Path, external_data: bool | str | None
) -> str | None:
    if external_data is None:
        external_data = _initializer_bytes(model) > EXTERNAL_DATA_THRESHOLD
    if external_data is False:
        if _initializer_bytes(model) > PROTOBUF_LIMIT:  # say so before reading 2 GiB in
            raise InputError(
                f"{path}: the model is over protobuf's 2 GiB limit for one file; "
                "save it with external_data=True"
            )
        return None
    name = f"{path.name}.data" if external_data is True else str(external_data)
    what = f"{path}: external data file"
    if not name:
        raise InputError(f"{what}: the name is empty")
    target = resolve_inside(folder, name, what=what)  # CVE-2025-51480: never write outside
    if target == (folder / path.name).resolve():
        raise UnsafeModelError(f"{what}: {name!r} is the model file itself")
    if target.is_dir():
        raise InputError(f"{what}: {name!r} is a folder")
    return name


def _initializer_bytes(model: ir.Model) -> int:
    return sum(
        value.const_value.nbytes
        for graph in model.graphs()
        for value in graph.initializers.values()
        if value.const_value is not None
    )


def _write_inline(model: ir.Model, staged: Path, path: Path) -> None:
    with external_tensors_in_memory(model):
        write_model(model, staged, path)


def inline_proto(model: ir.Model) -> onnx.ModelProto:
    """The model as one proto with every tensor's data in it (the model is left as it was)."""
    with external_tensors_in_memory(model):
        return ir.to_proto(model)


@contextlib.contextmanager
def external_tensors_in_memory(
    model: ir.Model, skip: Container[ir.Value] = frozenset()
) -> Iterator[None]:
    """Every external tensor of `model` but the initializers in `skip`, read into memory for
    the duration; afterwards the model is as it was.

    A proto that leaves the model's folder must not reference the source's data file: a
    copy in another folder cannot follow it, and a runtime given the proto as bytes (ONNX
    Runtime, onnx's reference evaluator) resolves it against the working directory, where
    it would read whatever file of that name it finds.
    """
    values, attributes = _external_sites(model, skip)
    originals = [value.const_value for value in values]
    try:
        memory = ir.external_data.convert_tensors_from_external(originals)
        for value, tensor in zip(values, memory, strict=True):
            value.const_value = tensor
        with _attributes_in_memory(attributes):
            yield
    finally:
        for value, tensor in zip(values, originals, strict=True):
            value.const_value = tensor


def _write_external(
    model: ir.Model, staging: Path, model_name: str, data_name: str, folder: Path
) -> None:
    target = folder / data_name
    values = list(_initializers(model))
    originals = [value.const_value for value in values]
    # The model reads its weights from the file about to be replaced: afterwards it must
    # read the new file (new offsets), not the old one.
    rebind = any(_same_file(tensor, target) for tensor in originals)
    (staging / data_name).parent.mkdir(parents=True, exist_ok=True)
    succeeded = False
    try:
        ir.external_data.unload_from_model(
            model, staging, data_name, size_threshold_bytes=INLINE_TENSOR_MAX_BYTES
        )
        with _attributes_in_memory(_external_sites(model)[1]):
            (staging / model_name).write_bytes(ir.to_proto(model).SerializeToString())
        if any(_is_external(value.const_value) for value in values):
            target.parent.mkdir(parents=True, exist_ok=True)
            publish(staging / data_name, target)
        succeeded = True
    finally:
        _after_external_write(values, originals, keep_new=succeeded and rebind, folder=folder)


def _after_external_write(
    values: list[ir.Value], originals: list, *, keep_new: bool, folder: Path
) -> None:
    for value, original in zip(values, originals, strict=True):
        if not keep_new:
            value.const_value = original
        elif isinstance(value.const_value, ir.ExternalTensor):
            value.const_value.base_dir = os.fspath(folder)


def _initializers(model: ir.Model) -> Iterator[ir.Value]:
    for graph in model.graphs():
        yield from graph.initializers.values()


def _is_external(tensor: object) -> bool:
    return isinstance(tensor, ir.ExternalTensor)


def _same_file(tensor: object, target: Path) -> bool:
    if not isinstance(tensor, ir.ExternalTensor):
        return False
    try:
        return os.path.samefile(tensor.path, target)
    except OSError:  # one of them does not exist
        return False


@contextlib.contextmanager
def _attributes_in_memory(attributes: list[tuple[ir.Node, ir.Attr]]) -> Iterator[None]:
    """Attribute tensors kept in external data (rare) read into memory while serializing."""
    swapped: list[tuple[ir.Node, ir.Attr]] = []
    try:
        for node, attr in attributes:
            (tensor,) = ir.external_data.convert_tensors_from_external([attr.value])
            node.attributes[attr.name] = ir.AttrTensor(attr.name, tensor)
            swapped.append((node, attr))
        yield
    finally:
        for node, attr in swapped:
            node.attributes[attr.name] = attr


def _external_sites(
    model: ir.Model, skip: Container[ir.Value] = frozenset()
) -> tuple[list[ir.Value], list[tuple[ir.Node, ir.Attr]]]:
    """The initializers (of every graph, but those in `skip`) and the node attributes whose
    tensors are external. One plain walk: onnx-ir's graph iterators cost ~3x more, and this
    runs for every proof on graphs of thousands of nodes."""
    values = [v for v in model.graph.initializers.values() if _is_external(v.const_value)]
    attributes: list[tuple[ir.Node, ir.Attr]] = []
    pending: list[Iterable[ir.Node]] = [model.graph, *model.functions.values()]
    while pending:
        for node in pending.pop():
            for attr in node.attributes.values():
                if attr.type == ir.AttributeType.TENSOR and _is_external(attr.value):
                    attributes.append((node, attr))
                for graph in _subgraphs(attr):
                    values += [v for v in graph.initializers.values()
                               if _is_external(v.const_value)]
                    pending.append(graph)
    return [value for value in values if value not in skip], attributes


def _subgraphs(attr: ir.Attr) -> list[ir.Graph]:
    if attr.type == ir.AttributeType.GRAPH:
        return [attr.value]
    if attr.type == ir.AttributeType.GRAPHS:
        return list(attr.value)
    return []
