"""sparse_initializer(values, indices, dims) -> initializer(dense tensor of dims).

onnx-ir has no sparse initializers and would drop them silently, leaving nodes that read a
value nobody defines. ONNX Runtime densifies them when it loads a model, so doing the same
here keeps the model's meaning.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import onnx
from onnx import numpy_helper

from graphkit.errors import InputError

# Densified, a tensor must still fit where a dense initializer lives: protobuf's 2 GiB.
MAX_DENSE_BYTES = 2**31


def densify_sparse_initializers(model: onnx.ModelProto, origin: str) -> onnx.ModelProto:
    """A copy of `model` whose sparse initializers are dense ones (the input is not changed)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for graph in graph_protos(copy.graph):
        for sparse in graph.sparse_initializer:
            graph.initializer.append(_dense(sparse, origin))
        del graph.sparse_initializer[:]
    return copy


def graph_protos(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """`graph` and every subgraph inside it, depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from graph_protos(attr.g)
            for sub in attr.graphs:
                yield from graph_protos(sub)


def _dense(sparse: onnx.SparseTensorProto, origin: str) -> onnx.TensorProto:
    name = sparse.values.name
    what = f"{origin}: sparse initializer {name!r}"
    if sparse.values.data_location == onnx.TensorProto.EXTERNAL:
        raise InputError(f"{what}: sparse values in external data are not supported")
    values = numpy_helper.to_array(sparse.values).reshape(-1)
    indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
    dims = tuple(int(d) for d in sparse.dims)
    size = math.prod(dims)
    if any(d < 0 for d in dims):
        raise InputError(f"{what}: negative dims {list(dims)}")
    if size * values.itemsize > MAX_DENSE_BYTES:
        raise InputError(
            f"{what}: dims {list(dims)} would make a dense tensor of {size * values.itemsize:,} "
            f"bytes, more than an ONNX file can hold inline (2 GiB)"
        )
    if indices.ndim == 2:  # [NNZ, rank] coordinates
        if indices.shape[1] != len(dims) or np.any(indices < 0) or np.any(indices >= dims):
            raise InputError(f"{what}: indices do not fit its shape {list(dims)}")
        indices = np.ravel_multi_index(tuple(indices.T), dims) if size else indices[:, 0]
    if indices.shape != values.shape or np.any(indices < 0) or np.any(indices >= size):
        raise InputError(f"{what}: {values.size} values but indices do not fit shape {list(dims)}")
    dense = np.zeros(size, dtype=values.dtype)
    dense[indices] = values
    return numpy_helper.from_array(dense.reshape(dims), name)
