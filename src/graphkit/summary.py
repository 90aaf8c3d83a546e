"""What is in a model: ops, opsets, interface, parameters (the data behind `graphkit inspect`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import onnx_ir as ir


def describe_value(value: ir.Value) -> dict[str, Any]:
    """name, dtype and shape of a value; dynamic dims by name (None where unnamed)."""
    shape = None
    if value.shape is not None:
        shape = [dim if isinstance(dim, int) else getattr(dim, "value", None)
                 for dim in value.shape]
    return {
        "name": value.name,
        "dtype": value.dtype.name.lower() if value.dtype is not None else None,
        "shape": shape,
    }


def summarize(model: ir.Model) -> dict[str, Any]:
    graph = model.graph
    ops: Counter[str] = Counter()
    subgraphs = 0
    for node in ir.traversal.RecursiveGraphIterator(graph):
        standard = node.domain in ("", "ai.onnx")
        ops[node.op_type if standard else f"{node.domain}::{node.op_type}"] += 1
        subgraphs += sum(
            1 if attr.type == ir.AttributeType.GRAPH else len(attr.value)
            for attr in node.attributes.values()
            if attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
        )
    initializers = [v for v in graph.initializers.values() if v.const_value is not None]
    inputs = [v for v in graph.inputs if v.name not in graph.initializers]
    return {
        "name": graph.name,
        "ir_version": model.ir_version,
        "producer": " ".join(filter(None, [model.producer_name, model.producer_version])),
        "nodes": sum(ops.values()),
        "ops": dict(sorted(ops.items(), key=lambda item: (-item[1], item[0]))),
        "opsets": {domain or "ai.onnx": version for domain, version in model.opset_imports.items()},
        "inputs": [describe_value(v) for v in inputs],
        "outputs": [describe_value(v) for v in graph.outputs],
        "parameters": {
            "tensors": len(initializers),
            "count": sum(v.const_value.size for v in initializers),
            "bytes": sum(v.const_value.nbytes for v in initializers),
        },
        "subgraphs": subgraphs,
        "functions": [f"{f.domain}::{f.name}" for f in model.functions.values()],
        "metadata": dict(model.metadata_props),
    }
