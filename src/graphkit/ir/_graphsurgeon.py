"""model <-> onnx_graphsurgeon.Graph (graphkit.pass_adapters.GraphSurgeonPass runs a user's
graphsurgeon script as a pass). onnx_graphsurgeon is an optional extra, imported on first use.
"""

from __future__ import annotations

from typing import Any

import onnx_ir as ir

from graphkit.errors import MissingDependencyError
from graphkit.ir._load import model_from_proto
from graphkit.ir._save import inline_proto


def graphsurgeon_module() -> Any:
    try:
        import onnx_graphsurgeon
    except ImportError:
        raise MissingDependencyError(
            "onnx-graphsurgeon", "all", "converting to an onnx-graphsurgeon Graph"
        ) from None
    return onnx_graphsurgeon


def to_graphsurgeon(model: ir.Model) -> Any:
    """An onnx_graphsurgeon.Graph holding a copy of the model (weights read into memory)."""
    return graphsurgeon_module().import_onnx(inline_proto(model))


def from_graphsurgeon(graph: Any, *, origin: str = "<graphsurgeon>") -> ir.Model:
    """The IR of a graphsurgeon Graph, checked like any loaded model."""
    proto = graphsurgeon_module().export_onnx(graph, do_type_check=False)
    return model_from_proto(proto, origin=origin)
