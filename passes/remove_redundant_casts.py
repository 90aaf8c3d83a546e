"""Cast(x: T, to=T) -> x;  Cast(Cast(x: A, to=B), to=C) -> Cast(x, to=C) when every A is exact in B.

The second rule needs the inner cast to lose nothing (f32 -> f64, int32 -> int64, bool -> any):
then casting on to C gives what casting x straight to C gives, and when C is A the pair
vanishes (Cast(f32 -> f64) -> Cast(f64 -> f32) is x). Lossy pairs such as f32 -> f16 -> f32
round and stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from graphkit.ir._walk import every_graph
from graphkit.passes._graph_edit import ensure_shapes, index_by_op, replace_value
from graphkit.passmanager import Pass, PassContext, PassResult

T = ir.DataType
_INTS_8 = {T.INT16, T.INT32, T.INT64}
_FLOATS = {T.FLOAT16, T.BFLOAT16, T.FLOAT, T.DOUBLE}
# A -> the types that hold every value of A exactly.
EXACT_IN: dict[ir.DataType, set[ir.DataType]] = {
    T.BOOL: {T.INT8, T.UINT8, T.INT16, T.UINT16, T.INT32, T.UINT32, T.INT64, T.UINT64} | _FLOATS,
    T.INT8: _INTS_8 | {T.FLOAT16, T.BFLOAT16, T.FLOAT, T.DOUBLE},
    T.UINT8: _INTS_8 | {T.UINT16, T.UINT32, T.UINT64, T.FLOAT16, T.FLOAT, T.DOUBLE},
    T.INT16: {T.INT32, T.INT64, T.FLOAT, T.DOUBLE},
    T.UINT16: {T.INT32, T.INT64, T.UINT32, T.UINT64, T.FLOAT, T.DOUBLE},
    T.INT32: {T.INT64, T.DOUBLE},
    T.UINT32: {T.INT64, T.UINT64, T.DOUBLE},
    T.FLOAT16: {T.FLOAT, T.DOUBLE},
    T.BFLOAT16: {T.FLOAT, T.DOUBLE},
    T.FLOAT: {T.DOUBLE},
}


@dataclass(frozen=True)
class RemoveRedundantCasts(Pass):
    name = "remove-redundant-casts"
    kind = "rewrite"
    preserves_shapes = True
    reaches_subgraphs = True  # rewrites If/Loop/Scan bodies and functions (diagnose reads it)

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        casts = [(scope.graph, node) for scope in every_graph(model)  # bodies, functions too
                 for node in index_by_op(scope.graph, ["Cast"]).get("Cast", [])]
        if not casts:
            return PassResult()  # spare the shape inference
        ensure_shapes(model, ctx)  # the rules need each Cast input's type
        simplified: list[str] = []  # what _simplify did to each Cast it changed
        for graph, node in casts:
            if node.graph is not graph:
                continue  # removed earlier in this sweep as the inner half of a pair
            done = _simplify(graph, node)
            if done is not None:
                simplified.append(done)
        return PassResult(modified=len(simplified) > 0, changes=simplified)


def _simplify(graph: ir.Graph, node: ir.Node) -> str | None:
    source = node.inputs[0]
    to = ir.DataType(node.attributes.get_int("to", 0))
    if source is None or source.dtype is None:
        return None
    if source.dtype == to:
        return _bypass(graph, node, source,
                       f"removed Cast '{node.name}' to the type it already has")
    inner = source.producer()
    if inner is None or inner.op_type != "Cast" or inner.domain not in ("", "ai.onnx"):
        return None
    origin = inner.inputs[0]
    if origin is None or origin.dtype is None or source.dtype not in EXACT_IN.get(origin.dtype, ()):
        return None
    if origin.dtype == to:
        return _bypass(graph, node, origin,
                       f"removed Cast pair '{inner.name}' -> '{node.name}' "
                       f"({origin.dtype.name} round trip)")
    node.replace_input_with(0, origin)
    _drop_if_unused(graph, inner)
    return (f"Cast '{node.name}' now reads '{origin.name}' directly "
            f"(skipping exact Cast '{inner.name}')")


def _bypass(graph: ir.Graph, node: ir.Node, replacement: ir.Value, change: str) -> str | None:
    inner = node.inputs[0].producer()
    if not replace_value(node.outputs[0], replacement):
        return None  # graph input straight to graph output: the interface needs the Cast
    graph.remove(node, safe=True)
    if inner is not None:
        _drop_if_unused(graph, inner)
    return change


def _drop_if_unused(graph: ir.Graph, node: ir.Node) -> None:
    if node.op_type != "Cast" or node.graph is not graph:
        return
    if any(out.uses() or out.is_graph_output() for out in node.outputs):
        return
    graph.remove(node, safe=True)
