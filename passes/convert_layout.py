"""NCHW image ops -> their NHWC forms, with the Transposes pushed out and cancelled:

    Y = Op(X, ...)                 -> Transpose(graphkit.nhwc::Op(Transpose(X, NHWC), ...), NCHW)
    U(Transpose(a, p), c, ...)     -> Transpose(U(a, c', ...), p)   U elementwise, c' = c moved
    Concat(Transpose(a, p), ...)   -> Transpose(Concat(a, ..., axis = p[axis]), p)
    Softmax, ReduceMean/Max/Min/Sum, Pad of Transpose(a, p): on `a`, axes renumbered
    Transpose(Transpose(a, p), q)  -> a where q undoes p, else one Transpose

`graphkit.nhwc::Op` is a model-local ONNX function whose body is Transpose to NCHW, the ONNX
op, Transpose back: ONNX Runtime inlines it, so the rewritten model runs and the pass
manager proves it like any rewrite, while the TFLite lowering maps it straight to its
builtin (CONV_2D, MAX_POOL_2D, ...) with no TRANSPOSE. The model's inputs and outputs keep
their layout: an NCHW image input keeps one Transpose after it.

Split, Slice, Gather and Squeeze follow with their axes renumbered; Reshape and Flatten
read past a Transpose that moves only size-1 dims. Not pushed through (a Transpose stays
before them): other Reshapes, Unsqueeze, Expand, and axes computed at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from graphkit.passes._graph_edit import add_constant, ensure_shapes, replace_value
from graphkit.passes._layout_axes import AXIS_OPS, ORDER_ONLY, Move, plan, reads_past
from graphkit.passmanager import Pass, PassContext, PassResult
from graphkit.rewrite import const_array

NHWC_DOMAIN = "graphkit.nhwc"
TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)
# NCHW op -> how many inputs its NHWC function takes (the call pads with empty inputs)
IMAGE_OPS = {"Conv": 3, "ConvTranspose": 3, "MaxPool": 1, "AveragePool": 1,
             "GlobalAveragePool": 1, "GlobalMaxPool": 1, "Resize": 4}
ELEMENTWISE = frozenset({
    "Relu", "Sigmoid", "Tanh", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu",
    "Selu", "Softplus", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Identity", "Add", "Sub",
    "Mul", "Div", "Max", "Min", "Sum", "Pow", "PRelu",
})
MAX_SWEEPS = 64


@dataclass(frozen=True)
class ConvertLayout(Pass):
    name = "convert-layout"
    kind = "rewrite"
    to: str = "NHWC"

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        if self.to != "NHWC":
            raise ValueError(f"convert-layout: to={self.to!r}; only NHWC is supported")
        opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1))
        graph = model.graph
        ensure_shapes(model, ctx)
        converted = _convert_image_ops(graph)
        if not converted:
            return PassResult(modified=False)
        _declare_functions(model, converted, opset)
        moved = cancelled = 0
        for _ in range(MAX_SWEEPS):
            step_moved, step_cancelled = _push_transposes(graph, opset), _cancel_pairs(graph)
            moved, cancelled = moved + step_moved, cancelled + step_cancelled
            _remove_dead_transposes(graph)
            if not step_moved and not step_cancelled:
                break
        ops = ", ".join(f"{count} {op}" for op, count in sorted(_counts(converted).items()))
        return PassResult(modified=True, changes=[
            f"NHWC: {ops}; {moved} op(s) moved across a Transpose, {cancelled} Transpose "
            f"pair(s) cancelled, {_count(graph, 'Transpose')} Transpose(s) left"])


def _counts(converted: dict[str, tuple[int, set[str]]]) -> dict[str, int]:
    return {op: count for op, (count, _) in converted.items()}


def _count(graph: ir.Graph, op_type: str) -> int:
    return sum(1 for node in graph if node.op_type == op_type and node.domain in {"", "ai.onnx"})


def _convert_image_ops(graph: ir.Graph) -> dict[str, tuple[int, set[str]]]:
    """Each 4-D NCHW op as its NHWC function between two Transposes. Returns op ->
    (how many, the attribute names the calls use)."""
    converted: dict[str, tuple[int, set[str]]] = {}
    made: dict[int, ir.Value] = {}  # id(an NCHW value) -> its one NHWC Transpose
    for node in list(graph):
        if node.domain not in {"", "ai.onnx"} or node.op_type not in IMAGE_OPS \
                or not _is_4d(node.inputs[0]) or len(node.outputs) != 1:
            continue
        source = node.inputs[0]
        if id(source) not in made:
            made[id(source)] = _transpose(graph, node, source, TO_NHWC)
        before = made[id(source)]
        padding = [None] * (IMAGE_OPS[node.op_type] - len(node.inputs))
        call = ir.Node(NHWC_DOMAIN, node.op_type, [before, *node.inputs[1:], *padding],
                       attributes=list(node.attributes.values()),
                       name=f"{node.name}_nhwc" if node.name else None)
        graph.insert_before(node, call)
        result = call.outputs[0]
        result.dtype = node.outputs[0].dtype
        result.shape = _permuted(node.outputs[0].shape, TO_NHWC)
        after = _transpose(graph, node, result, TO_NCHW)
        after.shape = node.outputs[0].shape
        replace_value(node.outputs[0], after)
        graph.remove(node, safe=True)
        count, names = converted.get(node.op_type, (0, set()))
        converted[node.op_type] = (count + 1, names | set(node.attributes))
    return converted


def _is_4d(value: ir.Value | None) -> bool:
    return value is not None and value.shape is not None and len(value.shape) == 4


def _permuted(shape: ir.Shape | None, perm: tuple[int, ...]) -> ir.Shape | None:
    return None if shape is None else ir.Shape([shape[axis] for axis in perm])


def _transpose(graph: ir.Graph, before: ir.Node, value: ir.Value,
               perm: tuple[int, ...]) -> ir.Value:
    node = ir.Node("", "Transpose", [value], attributes=[ir.AttrInt64s("perm", list(perm))])
    graph.insert_before(before, node)
    out = node.outputs[0]
    out.dtype, out.shape = value.dtype, _permuted(value.shape, perm)
    return out


def _declare_functions(model: ir.Model, converted: dict[str, tuple[int, set[str]]],
                       opset: int) -> None:
    model.opset_imports[NHWC_DOMAIN] = 1
    for op, (_, names) in converted.items():
        key = (NHWC_DOMAIN, op, "")
        if key in model.functions:
            names |= set(model.functions[key].attributes)
        model.functions[key] = _function(op, sorted(names), opset)


def _function(op: str, attributes: list[str], opset: int) -> ir.Function:
    """Transpose(X) to NCHW, the op with every attribute the caller gives, Transpose back."""
    x = ir.Value(name="X")
    rest = [ir.Value(name=f"I{index}") for index in range(1, IMAGE_OPS[op])]
    to_nchw = ir.Node("", "Transpose", [x], attributes=[ir.AttrInt64s("perm", list(TO_NCHW))])
    refs = [ir.RefAttr(name, name, _attribute_type(op, name, opset)) for name in attributes]
    body = ir.Node("", op, [to_nchw.outputs[0], *rest], attributes=refs)
    to_nhwc = ir.Node("", "Transpose", [body.outputs[0]],
                      attributes=[ir.AttrInt64s("perm", list(TO_NHWC))])
    to_nhwc.outputs[0].name = "Y"
    graph = ir.Graph([x, *rest], [to_nhwc.outputs[0]], nodes=[to_nchw, body, to_nhwc],
                     opset_imports={"": opset}, name=op)
    return ir.Function(NHWC_DOMAIN, op, graph=graph,
                       attributes=[ir.Attr(name, _attribute_type(op, name, opset), None)
                                   for name in attributes])


def _attribute_type(op: str, name: str, opset: int) -> ir.AttributeType:
    import onnx

    schema = onnx.defs.get_schema(op, opset)
    return ir.AttributeType(int(schema.attributes[name].type))


def _transposed_by(value: ir.Value | None) -> tuple[int, ...] | None:
    producer = value.producer() if value is not None else None
    if producer is None or producer.op_type != "Transpose" \
            or producer.domain not in {"", "ai.onnx"} or "perm" not in producer.attributes:
        return None
    return tuple(producer.attributes["perm"].as_ints())


def _push_transposes(graph: ir.Graph, opset: int) -> int:
    """Elementwise ops and Concats whose moving inputs are all Transposes by one perm run
    before it instead: one Transpose after them. Softmax, reductions, Pad, Split, Slice,
    Gather and Squeeze of a Transpose's output run on its input with their axes renumbered
    (_layout_axes); Reshape and Flatten read it directly where the Transpose moves only
    size-1 dims."""
    moved = 0
    for node in list(graph):
        if node.domain not in {"", "ai.onnx"} or not node.inputs:
            continue
        perm = _transposed_by(node.inputs[0]) \
            if node.op_type in AXIS_OPS | ORDER_ONLY else None
        if perm is not None:
            source = node.inputs[0].producer().inputs[0]
            if node.op_type in ORDER_ONLY:
                if reads_past(node, perm, source.shape):
                    node.replace_input_with(0, source)
                    moved += 1
                continue
            move = plan(graph, node, perm, opset)
            if move is not None and _worth_moving(node, move):
                move.apply()
                node.replace_input_with(0, source)
                _transpose_after(graph, node, move.after)
                moved += 1
            continue
        if len(node.outputs) != 1 or node.op_type not in ELEMENTWISE | {"Concat"} \
                or not _is_4d(node.outputs[0]):
            continue
        perm = _shared_perm(node)
        if perm is None:
            continue
        _move_below(graph, node, perm)
        moved += 1
    return moved


def _worth_moving(node: ir.Node, move: Move) -> bool:
    """Moving never adds a Transpose: the node needs none after it, or the Transpose before
    it has no other reader (it then moves below the node, where it may cancel). A Transpose
    read by several nodes stays for the others, and each move would add one after."""
    if move.after is None:
        return True
    transposed = node.inputs[0]
    return len(transposed.uses()) == 1 and not transposed.is_graph_output()


def _shared_perm(node: ir.Node) -> tuple[int, ...] | None:
    """The one perm every non-constant input is transposed by (None: not so)."""
    perms = set()
    for value in node.inputs:
        if value is None or const_array(value) is not None:
            continue
        perm = _transposed_by(value)
        if perm is None:
            return None
        perms.add(perm)
    if len(perms) != 1:
        return None
    perm = perms.pop()
    if node.op_type == "Concat" and any(const_array(v) is not None for v in node.inputs):
        return None
    if any(v is not None and const_array(v) is not None and const_array(v).ndim > 4
           for v in node.inputs):
        return None
    return perm


def _move_below(graph: ir.Graph, node: ir.Node, perm: tuple[int, ...]) -> None:
    """An elementwise op or Concat, computed on the Transposes' inputs (constants moved)."""
    inverse = tuple(int(i) for i in np.argsort(perm))
    for index, value in enumerate(node.inputs):
        if value is None:
            continue
        array = const_array(value)
        if array is None:
            node.replace_input_with(index, value.producer().inputs[0])
        elif array.ndim > 0 and node.op_type != "Clip":
            full = array.reshape((1,) * (4 - array.ndim) + array.shape)
            moved = np.ascontiguousarray(np.transpose(full, inverse))
            node.replace_input_with(index, add_constant(graph, moved, f"{value.name}_moved"))
    if node.op_type == "Concat":
        axis = node.attributes["axis"].as_int() % 4
        node.attributes["axis"] = ir.AttrInt64("axis", perm[axis])
    _transpose_after(graph, node, perm)


def _transpose_after(graph: ir.Graph, node: ir.Node, perm: tuple[int, ...] | None) -> None:
    """The node now computes in its inputs' layout: the readers of each of its outputs (and
    the graph output it may be) get it through Transpose(perm), which gives the old layout
    back."""
    if perm is None:
        return
    inverse = tuple(int(i) for i in np.argsort(perm))
    for out in node.outputs:
        after_node = ir.Node("", "Transpose", [out],
                             attributes=[ir.AttrInt64s("perm", list(perm))])
        graph.insert_after(node, after_node)
        after = after_node.outputs[0]
        after.dtype, after.shape = out.dtype, out.shape
        out.shape = _permuted(out.shape, inverse)
        for use in list(out.uses()):
            if use.node is not after_node:
                use.node.replace_input_with(use.idx, after)
        if out.is_graph_output():
            index = graph.outputs.index(out)
            name = out.name
            out.name = f"{name}__moved"
            after.name = name
            graph.outputs[index] = after


def _cancel_pairs(graph: ir.Graph) -> int:
    """Transpose(Transpose(a, p), q): `a` where they undo each other, else one Transpose."""
    cancelled = 0
    for node in list(graph):
        inner = _transposed_by(node.inputs[0]) if node.op_type == "Transpose" \
            and node.domain in {"", "ai.onnx"} else None
        if inner is None or "perm" not in node.attributes:
            continue
        outer = tuple(node.attributes["perm"].as_ints())
        composed = tuple(inner[axis] for axis in outer)
        source = node.inputs[0].producer().inputs[0]
        if composed == tuple(range(len(composed))):
            if replace_value(node.outputs[0], source):
                graph.remove(node, safe=True)
                cancelled += 1
        else:
            node.replace_input_with(0, source)
            node.attributes["perm"] = ir.AttrInt64s("perm", list(composed))
            cancelled += 1
    return cancelled


def _remove_dead_transposes(graph: ir.Graph) -> None:
    for node in reversed(list(graph)):
        if node.op_type == "Transpose" and not node.outputs[0].uses() \
                and not node.outputs[0].is_graph_output():
            graph.remove(node, safe=True)
