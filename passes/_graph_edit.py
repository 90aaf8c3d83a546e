"""Small graph helpers shared by the cast, shape and cleanup passes (not a pass)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.ir._light import inference_proto
from graphkit.passmanager import PassContext
from graphkit.rewrite import constant_value

STANDARD_DOMAINS = ("", "ai.onnx")


def index_by_op(graph: ir.Graph, op_types: Iterable[str]) -> dict[str, list[ir.Node]]:
    """One walk over the graph: op type -> nodes of the standard domain, in graph order."""
    wanted = set(op_types)
    index: dict[str, list[ir.Node]] = defaultdict(list)
    for node in graph:
        if node.op_type in wanted and node.domain in STANDARD_DOMAINS:
            index[node.op_type].append(node)
    return index


def infer_shapes(model: ir.Model) -> None:
    """ONNX shape and type inference with data propagation, written onto the main graph's values.

    Large weights travel to onnx as typed inputs rather than data (small integer constants
    stay, since data propagation reads them): serializing 150 MB of weights each time was
    most of the cost of a fix on a large model.
    """
    for value in model.graph.initializers.values():  # weights are sent by declared type
        if value.const_value is not None and value.dtype != value.const_value.dtype:
            value.dtype = value.const_value.dtype
    try:
        inferred = onnx.shape_inference.infer_shapes(
            inference_proto(model), check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # best effort, like onnx's own non-strict mode: keep what we know
        return
    produced = {value.name: value for node in model.graph for value in node.outputs}
    for info in [*inferred.graph.value_info, *inferred.graph.output]:
        value = produced.get(info.name)
        tensor_type = info.type.tensor_type
        if value is None or not tensor_type.elem_type:
            continue
        if not tensor_type.HasField("shape"):  # a type but no shape: keep any shape we had
            value.dtype = ir.DataType(tensor_type.elem_type)
        elif not _already(value, tensor_type):  # most values are: skip building them again
            ir.serde.deserialize_value_info_proto(info, value)


def ensure_shapes(model: ir.Model, ctx: PassContext) -> None:
    """infer_shapes, unless the pass manager says the shapes are current already."""
    if not ctx.shapes_current:
        infer_shapes(model)


def _already(value: ir.Value, tensor_type: onnx.TypeProto.Tensor) -> bool:
    """Whether `value` has this dtype and shape already (static dims and named dims alike)."""
    shape = value.shape
    dims = tensor_type.shape.dim
    if value.dtype != tensor_type.elem_type or shape is None or len(shape) != len(dims):
        return False
    for have, dim in zip(shape, dims):
        if dim.HasField("dim_value"):
            if have != dim.dim_value:
                return False
        elif not dim.HasField("dim_param") or getattr(have, "value", None) != dim.dim_param:
            return False
    return True


def add_constant(graph: ir.Graph, array: np.ndarray, name: str) -> ir.Value:
    """Register `array` as an initializer under a name not yet used in the graph."""
    taken = graph.initializers
    unique, counter = name, 0
    while unique in taken:
        counter += 1
        unique = f"{name}_{counter}"
    value = constant_value(array, unique)
    graph.register_initializer(value)
    return value


def replace_value(old: ir.Value, new: ir.Value) -> bool:
    """Point every use of `old` at `new`, keeping graph output names; False if impossible.

    A graph output keeps its name: `new` takes it over, which is only possible when `new`
    is an ordinary intermediate value of the same graph (not an input, initializer, another
    output, or a value of the graph around a subgraph).
    """
    if old.is_graph_output():
        if new.is_graph_input() or new.is_initializer() or new.is_graph_output() \
                or new.graph is not old.graph:
            return False
        name = old.name
        old.name = f"{name}__replaced"
        new.name = name
    ir.convenience.replace_all_uses_with(old, new, replace_graph_outputs=True)
    return True


def static_dims(shape: ir.Shape | None) -> list[int] | None:
    """The dims as ints if every one is known, else None."""
    if shape is None:
        return None
    dims = [dim for dim in shape]
    return dims if all(isinstance(dim, int) for dim in dims) else None


def dim_symbol(dim: int | ir.SymbolicDim) -> str | None:
    """The name of a symbolic dim (two dims with one name are equal), None if unnamed/static."""
    if isinstance(dim, int):
        return None
    value = getattr(dim, "value", None)
    return value if isinstance(value, str) and value else None


def cast_node(value: ir.Value, to: ir.DataType, name: str) -> ir.Node:
    """A Cast of `value` to `to`, with its output typed and shaped like the input."""
    node = ir.node("Cast", [value], {"to": to}, name=name)
    out = node.outputs[0]
    out.name = name
    out.dtype = to
    out.shape = value.shape
    return node


def cast_after_input(graph: ir.Graph, value: ir.Value, to: ir.DataType) -> ir.Value:
    """Insert Cast(input, to) at the top of the graph and move the input's uses onto it."""
    uses = list(value.uses())
    node = cast_node(value, to, f"{value.name}_as_{to.name.lower()}")
    if len(graph):
        graph.insert_before(next(iter(graph)), node)
    else:
        graph.append(node)
    for use in uses:
        use.node.replace_input_with(use.idx, node.outputs[0])
    return node.outputs[0]


def cast_before_output(graph: ir.Graph, value: ir.Value, to: ir.DataType) -> None:
    """Make graph output `value` (now of another type) leave the graph as `to`, same name."""
    name = value.name
    value.name = f"{name}_{value.dtype.name.lower() if value.dtype else 'inner'}"
    node = cast_node(value, to, name)
    graph.append(node)
    for index, output in enumerate(graph.outputs):
        if output is value:
            graph.outputs[index] = node.outputs[0]
