"""Values known when converting: constant-only subgraphs, computed once and written as
constants, so none of their nodes reaches the .tflite file.

A node folds where every input is known (an initializer, a Constant, a dequantized
constant, an output that folds itself, or a value whose static shape has no elements) or
where it reads only the static shape of its input (Shape, Size); an output whose static
shape has no elements is known whatever computes it. onnx's reference evaluator computes
it, with the model's opset: the value is ONNX's by definition, whatever builtin the op
would have needed (integer Div, BitShift, a float64 step of a shape computation). Only
the main graph folds (its nodes know their opset); If/Loop bodies are lowered as they
are.

The results live in the model's ValueFacts (`folded`), filled for a whole graph in one
pass in node order the first time any value of it is asked about: analysis and emission
ask the same facts, and so they see the same constants.

The shapes that folding makes known are _refine.py's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.backends.tflite.lowering._constants import const_or_dequantized
from graphkit.ir._light import keep_value
from graphkit.targets.base import ValueFacts

# Ops that must run when the model runs: random draws, and the quantization steps the
# lowering keeps as they are (a Q/DQ weight is read as an int8 weight by Conv and MatMul).
UNFOLDED = frozenset({
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli",
    "Multinomial", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
    "If", "Loop", "Scan", "SequenceMap",
})
READS_SHAPE_ONLY = frozenset({"Shape", "Size"})
REDUCTIONS = frozenset({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                        "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
                        "ReduceLogSumExp"})
MAX_ELEMENTS = 1 << 20  # larger results stay computed at run time (the file stays small)
FOLDABLE_DTYPES = frozenset({np.dtype(t) for t in (
    np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8,
    np.uint16, np.uint32, np.uint64, np.bool_)})


def folded_proto(graph: ir.Graph, table: dict[ir.Value, np.ndarray]) -> onnx.ModelProto:
    """The graph for inference: folded nodes left out, their outputs as initializers, large
    weights as typed inputs (their values never decide a shape)."""
    # with their shapes: an initializer whose value_info has a type but no shape makes
    # onnx's inference misread it (a Slice's axes, as in CausalConvWithState's body)
    constants = [ir.Value(name=v.name, type=v.type, const_value=ir.tensor(a),
                          shape=ir.Shape(np.shape(a)) if v.type is not None else None)
                 for v, a in table.items() if v.name]
    small = [v for v in graph.initializers.values() if keep_value(v)]
    large = [v for v in graph.initializers.values()
             if not keep_value(v) and not v.is_graph_input()]
    nodes = [n for n in graph if not (n.outputs and all(o in table for o in n.outputs))]
    view = ir.GraphView(inputs=[*graph.inputs, *large], outputs=list(graph.outputs),
                        nodes=nodes, initializers=[*small, *constants], name=graph.name)
    proto = onnx.ModelProto(ir_version=10)
    for domain, version in graph.opset_imports.items():
        proto.opset_import.add(domain=domain, version=version)
    ir.serde.serialize_graph_into(proto.graph, view)
    return proto


def folded(value: ir.Value | None, values: ValueFacts) -> np.ndarray | None:
    """The value's data when it is known when converting (None: only the run knows it)."""
    if value is None:
        return None
    producer = value.producer()
    if producer is None or graph_opset(producer.graph) is None:
        return None
    return graph_folds(producer.graph, values).get(value)


def node_folds(node: ir.Node, values: ValueFacts) -> bool:
    """Whether every output of the node is known when converting."""
    return bool(node.outputs) and all(folded(v, values) is not None for v in node.outputs)


def empty_array(value: ir.Value | None, values: ValueFacts) -> np.ndarray | None:
    """The data of a value whose static shape has no elements: the shape says it all,
    whatever computes the value (None: the value has elements, or its shape or type is
    not known)."""
    shape = values.shape(value) if value is not None else None
    if shape is None or not all(isinstance(d, int) for d in shape) or 0 not in shape:
        return None
    found = _numpy_dtype(value, values)
    return np.zeros(shape, found) if found in FOLDABLE_DTYPES else None


def _numpy_dtype(value: ir.Value, values: ValueFacts) -> np.dtype | None:
    dtype = values.dtype(value) or value.dtype
    try:
        return np.dtype(dtype.numpy()) if dtype is not None else None
    except (TypeError, ValueError):
        return None


def graph_opset(graph: ir.Graph | None) -> int | None:
    if graph is None:
        return None
    return graph.opset_imports.get("", graph.opset_imports.get("ai.onnx"))


def graph_folds(graph: ir.Graph, values: ValueFacts) -> dict[ir.Value, np.ndarray]:
    key = ("graph", id(graph))
    found = values.folded.get(key)
    if found is not None and found[0] is graph:
        return found[1]
    table: dict[ir.Value, np.ndarray] = {}
    values.folded[key] = (graph, table)  # the same graph's lookups read it as it fills
    opset = graph_opset(graph)
    for node in graph:
        results = _fold_node(node, values, opset)
        if results is not None:
            table.update(zip(node.outputs, results, strict=True))
            continue
        if not all(_numpy_dtype(v, values) in FOLDABLE_DTYPES for v in node.inputs if v):
            continue  # a string input, say: the lowering judges the node
        for value in node.outputs:  # an output without elements is known by its shape
            array = empty_array(value, values)
            if array is not None:
                table[value] = array
    return table


def _fold_node(node: ir.Node, values: ValueFacts, opset: int) -> list[np.ndarray] | None:
    if node.domain not in ("", "ai.onnx") or node.op_type in UNFOLDED or not node.outputs:
        return None
    if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
           for a in node.attributes.values()):
        return None
    if node.op_type in READS_SHAPE_ONLY:
        return _shape_only(node, values)
    if node.op_type in REDUCTIONS:
        nothing = _reduced_nothing(node, values, opset)
        if nothing is not None:
            return nothing
    arrays = [None if v is None else _known(v, values) for v in node.inputs]
    if any(a is None for a, v in zip(arrays, node.inputs, strict=True) if v is not None):
        return None
    if not arrays and node.op_type != "Constant":
        return None  # generators without inputs (EyeLike has one) are lowered as they are
    return _evaluate(node, arrays, opset)


def _reduced_nothing(node: ir.Node, values: ValueFacts, opset: int
                     ) -> list[np.ndarray] | None:
    """A reduction whose input has no elements and whose output has some: every output
    element reduces an empty set, whichever axes are reduced (the axes may be known only
    when the model runs), so each is the op's value on nothing, as the evaluator gives it
    for an empty vector (sum 0, product 1, max -inf, ...)."""
    data = values.shape(node.inputs[0]) if node.inputs else None
    shape = values.shape(node.outputs[0])
    if data is None or shape is None or 0 not in data \
            or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    array = empty_array(node.inputs[0], values)
    if array is None:
        return None
    alone = ir.Node("", node.op_type, [ir.Value(name="data")],
                    attributes=[ir.AttrInt64("keepdims", 0)], num_outputs=1)
    results = _evaluate(alone, [np.zeros((0,), array.dtype)], opset)
    if results is None or results[0].ndim != 0:
        return None
    return [np.full(shape, results[0], results[0].dtype)]


def _known(value: ir.Value, values: ValueFacts) -> np.ndarray | None:
    array = const_or_dequantized(value)
    if array is None:
        array = folded(value, values)
    return array if array is not None else empty_array(value, values)


def _shape_only(node: ir.Node, values: ValueFacts) -> list[np.ndarray] | None:
    shape = values.shape(node.inputs[0])
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    if node.op_type == "Size":
        return [np.asarray(int(np.prod(shape)), dtype=np.int64)]
    start = node.attributes.get("start")
    end = node.attributes.get("end")
    dims = np.asarray(shape, dtype=np.int64)
    low = start.value if start is not None else 0
    high = end.value if end is not None else len(dims)
    return [dims[slice(max(low, -len(dims)), high)]]


def _evaluate(node: ir.Node, arrays: list[Any], opset: int) -> list[np.ndarray] | None:
    """The node run by onnx's reference evaluator (None where it cannot run it)."""
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if a is not None else "" for i, a in enumerate(arrays)]
    outputs = [f"out{i}" for i in range(len(node.outputs))]
    proto = ir.serde.serialize_node(node)
    del proto.input[:], proto.output[:]
    proto.input.extend(names)
    proto.output.extend(outputs)
    untyped = onnx.TypeProto()
    graph = onnx.helper.make_graph(
        [proto], "fold", [onnx.helper.make_value_info(n, untyped) for n in names if n],
        [onnx.helper.make_value_info(n, untyped) for n in outputs])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    feeds = {n: a for n, a in zip(names, arrays, strict=True) if n}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            results = ReferenceEvaluator(model).run(None, feeds)
    except Exception:  # noqa: BLE001 - an op the evaluator cannot run stays a node
        return None
    arrays_out = [np.asarray(r) if isinstance(r, (np.ndarray, np.generic)) else None
                  for r in results]
    if any(a is None or a.dtype not in FOLDABLE_DTYPES or a.size > MAX_ELEMENTS
           for a in arrays_out):
        return None
    return arrays_out
