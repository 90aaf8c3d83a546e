"""Load ONNX files, bytes and protos into onnx-ir, refusing what is unsafe or malformed.

Every path into the IR goes through `model_from_proto`, which checks, in this order: every
string is UTF-8 (_text), well-formedness (_wellformed, names the node; declared types are
possible), calls of local functions (_calls: no recursion), standard ops' attributes against
their schemas (_attributes), every tensor's data against its type and dims (_tensors),
external data (stays in the folder, long enough), sparse initializers (densified, since
onnx-ir would drop them). Each problem is one InputError line, found before anything is
allocated for the model's tensors. A file path must name a regular file (_files).

A file's large weights are not parsed: they stay in the file, as arrays over its memory
map (graphkit.ir._mapped), so the map stays open while the model lives.

Not kept: `training_info` (onnx-ir has no place for it; inference never reads it).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Collection
from pathlib import Path

import onnx
import onnx_ir as ir
from google.protobuf.message import DecodeError

from graphkit.errors import InputError, first_line
from graphkit.ir._attributes import check_attributes
from graphkit.ir._calls import check_calls
from graphkit.ir._external import check_external_data
from graphkit.ir._files import open_regular_file, sniff
from graphkit.ir._gc import collector_paused
from graphkit.ir._mapped import attach_weights, find_weights
from graphkit.ir._sparse import densify_sparse_initializers
from graphkit.ir._tensors import check_tensor
from graphkit.ir._text import check_text
from graphkit.ir._wellformed import check_well_formed


def load_onnx(path: str | os.PathLike, *, in_place: bool = True) -> ir.Model:
    """Load an ONNX file after checking its graph and that its external data stays in its folder.

    in_place: the main graph's large weights become arrays over the file's memory map, which
    closes when the last of them is freed. False reads them into memory, for a file that is
    about to be deleted (on Windows a mapped file cannot be)."""
    path = Path(path)
    data = _map_file(path)
    mapped = find_weights(data) if in_place else None
    if mapped is None:
        proto = parse_whole(data, str(path))
        return model_from_proto(proto, base_dir=path.parent, origin=str(path))
    proto = _parse(mapped.stripped, str(path))
    with collector_paused():
        model = _model_from_proto(proto, path.parent, str(path), mapped=mapped.spans.keys())
    attach_weights(model, proto, mapped, data, str(path))
    return model


def load_onnx_bytes(data: bytes, origin: str = "<bytes>") -> ir.Model:
    """Load a serialized ModelProto. Bytes have no folder, so external data is refused."""
    return model_from_proto(_parse(data, origin), origin=origin)


def model_from_proto(
    proto: onnx.ModelProto, *, base_dir: str | os.PathLike | None = None, origin: str = "<model>"
) -> ir.Model:
    """The IR of `proto` (which is not changed). External data is read from `base_dir` only."""
    with collector_paused():
        return _model_from_proto(proto, base_dir, origin)


def _model_from_proto(
    proto: onnx.ModelProto,
    base_dir: str | os.PathLike | None,
    origin: str,
    mapped: Collection[int] = (),
) -> ir.Model:
    """`mapped`: indices of main-graph initializers whose data stayed in the file."""
    if not proto.ir_version and proto.HasField("graph"):
        raise InputError(f"{origin}: not an ONNX model (it declares no IR version)")
    check_text(proto, origin)  # first: the messages below quote names
    shape = check_well_formed(proto, origin)
    check_calls(proto, origin)
    check_attributes(proto, origin)
    for label, tensor, elsewhere in shape.labelled_tensors(mapped):
        check_tensor(tensor, label, data_elsewhere=elsewhere)
    check_external_data(shape.tensors(), base_dir, origin=origin)
    if any(graph.sparse_initializer for graph in shape.graphs):
        proto = densify_sparse_initializers(proto, origin)
    try:
        model = ir.serde.deserialize_model(proto)
    except Exception as err:  # onnx-ir raises several types for malformed graphs
        raise InputError(f"{origin}: malformed ONNX graph ({first_line(err, 200)})") from None
    if base_dir is not None:
        _set_base_dir(model, os.path.abspath(base_dir))  # a later chdir must not move it
    if shape.needs_sort:
        model.graph.sort()  # the check found no cycle, so this cannot fail
    return model


def parse_whole(data: mmap.mmap, origin: str) -> onnx.ModelProto:
    """Parse the mapped file with its weights (a copy of them), and close the map."""
    with data, memoryview(data) as view:  # the view is released before the map
        return _parse(view, origin)


def _map_file(path: Path) -> mmap.mmap:
    """The file, memory-mapped: parsing from the map spares reading it into bytes first."""
    fd = open_regular_file(path)
    try:
        if os.fstat(fd).st_size == 0:
            raise InputError(f"{path}: is empty (0 bytes), not an ONNX model")
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    finally:
        os.close(fd)  # the map keeps its own reference to the file


def _parse(data: bytes | memoryview, origin: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as err:
        kind = sniff(bytes(data[:8]))
        if kind:
            raise InputError(f"{origin}: not an ONNX model: it is {kind}") from None
        raise InputError(
            f"{origin}: not an ONNX model, or a truncated one: it does not parse as a "
            f"ModelProto ({first_line(err, 200)})"
        ) from None
    if not proto.HasField("graph") and not proto.ir_version:
        raise InputError(f"{origin}: not an ONNX model (no graph and no IR version in the file)")
    return proto


def _set_base_dir(model: ir.Model, base_dir: str) -> None:
    ir.external_data.set_base_dir(model.graph, base_dir)
    for function in model.functions.values():
        for node in ir.traversal.RecursiveGraphIterator(function):
            for attr in node.attributes.values():
                _set_attr_base_dir(attr, base_dir)


def _set_attr_base_dir(attr: ir.Attr, base_dir: str) -> None:
    tensors = attr.value if isinstance(attr.value, list) else [attr.value]
    for tensor in tensors:
        if isinstance(tensor, ir.ExternalTensor):
            tensor.base_dir = base_dir


def copy_model(model: ir.Model) -> ir.Model:
    """An independent copy (through the proto), external tensors still read from their folder."""
    with collector_paused():
        copy = ir.serde.deserialize_model(ir.to_proto(model))
    keep_base_dirs(model, copy)
    return copy


def keep_base_dirs(source: ir.Model, copy: ir.Model) -> None:
    """Point the external initializers of `copy` (made from `source` through a proto, which
    keeps only their locations) at the folder `source` read them from; left as they come
    out of the proto, they would be read from the working directory."""
    base_dirs = {
        value.name: value.const_value.base_dir
        for graph in source.graphs()
        for value in graph.initializers.values()
        if isinstance(value.const_value, ir.ExternalTensor)
    }
    if not base_dirs:
        return
    for graph in copy.graphs():
        for value in graph.initializers.values():
            if isinstance(value.const_value, ir.ExternalTensor) and value.name in base_dirs:
                value.const_value.base_dir = base_dirs[value.name]
