"""Refuse ONNX external-data references that reach outside the model's folder.

Known attacks this guards against, each with a test in tests/ir/test_external_data.py:
- a location that climbs out of the folder or is absolute (CVE-2022-25882, CVE-2024-27318);
- a location that is a symlink pointing out of the folder (CVE-2026-27489);
- unknown keys in an external_data entry (CVE-2026-34445);
- on save, a data file that would be written outside the output's folder (CVE-2025-51480).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import onnx

from graphkit.errors import UnsafeModelError

# The keys the ONNX spec defines for TensorProto.external_data.
KNOWN_KEYS = frozenset({"location", "offset", "length", "checksum"})


def iter_tensor_protos(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto in the model: initializers, attributes, subgraphs, functions."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _node_tensors(node)


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for graph in attr.graphs:
            yield from _graph_tensors(graph)


def check_external_data(model: onnx.ModelProto, model_dir: str | os.PathLike) -> None:
    """Raise UnsafeModelError if any external-data reference is unsafe or missing."""
    root = Path(model_dir).resolve()
    for tensor in iter_tensor_protos(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {entry.key: entry.value for entry in tensor.external_data}
        unknown = sorted(set(entries) - KNOWN_KEYS)
        if unknown:
            raise UnsafeModelError(
                f"tensor '{tensor.name}': unknown external_data key(s) {unknown}; "
                f"allowed keys are {sorted(KNOWN_KEYS)}"
            )
        location = entries.get("location")
        if not location:
            raise UnsafeModelError(f"tensor '{tensor.name}': external data has no location")
        resolve_inside(root, location, what=f"tensor '{tensor.name}' external data")


def resolve_inside(root: Path, location: str, *, what: str) -> Path:
    """Resolve `location` against `root`, refusing anything that ends up outside it."""
    if os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location:
        raise UnsafeModelError(f"{what}: location {location!r} is absolute; it must be relative")
    candidate = root / location
    resolved = candidate.resolve()  # follows symlinks, so a link out of the folder is caught
    if resolved != root and root not in resolved.parents:
        kind = "a symlink that points" if _has_symlink(root, location) else "a path that leads"
        raise UnsafeModelError(
            f"{what}: location {location!r} is {kind} outside the model's folder {str(root)!r}"
        )
    return resolved


def _has_symlink(root: Path, location: str) -> bool:
    path = root
    for part in Path(location).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False
