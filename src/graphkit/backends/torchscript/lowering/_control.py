"""Lowering entries: If, Loop, Scan (as real control flow), sequences and optionals."""

from __future__ import annotations

import onnx_ir as ir

from graphkit.backends.torchscript.kernels import control as cf
from graphkit.backends.torchscript.kernels import sequence as sq
from graphkit.backends.torchscript.lowering._base import (
    ALL_TORCH,
    EmitContext,
    Lowering,
    attr,
    attr_int,
    attr_ints,
    kernel,
)


def _bodies(node: ir.Node) -> list[ir.Graph]:
    return [a.value for a in node.attributes.values() if a.type == ir.AttributeType.GRAPH]


def _check_tensor_bodies(node: ir.Node, opset: int) -> str | None:
    """Bodies run as List[Tensor] -> List[Tensor]: sequences and optionals cannot pass."""
    for body in _bodies(node):
        for value in (*body.inputs, *body.outputs):
            if isinstance(value.type, (ir.SequenceType, ir.OptionalType)):
                return (f"{node.op_type} bodies that carry sequences or optionals "
                        f"('{value.name}') are not lowered")
    for value in (*node.inputs, *node.outputs):
        if value is not None and isinstance(value.type, (ir.SequenceType, ir.OptionalType)):
            return f"{node.op_type} over sequences or optionals ('{value.name}') is not lowered"
    return None


def _if(cx: EmitContext, node: ir.Node) -> list:
    then_module, then_in = cx.subgraph(attr(node, "then_branch"), f"{node.name}_then")
    else_module, else_in = cx.subgraph(attr(node, "else_branch"), f"{node.name}_else")
    module = cf.OnnxIf(then_module, else_module)
    args = [cx.inputs(node)[0], then_in, else_in]
    return cx.module(f"{node.name or 'if'}", module, args, len(node.outputs))


def _loop(cx: EmitContext, node: ir.Node) -> list:
    inputs = cx.inputs(node, 2)
    body = attr(node, "body")
    n_carried = len(inputs) - 2
    n_scan = len(body.outputs) - 1 - n_carried
    body_module, captured = cx.subgraph(body, f"{node.name}_body")
    module = cf.OnnxLoop(body_module, n_carried, n_scan)
    args = [inputs[0], inputs[1], inputs[2:], captured]
    return cx.module(f"{node.name or 'loop'}", module, args, len(node.outputs))


def _scan(cx: EmitContext, node: ir.Node) -> list:
    inputs = cx.inputs(node)
    n_scan_in = attr_int(node, "num_scan_inputs", 1)
    n_states = len(inputs) - n_scan_in
    n_scan_out = len(node.outputs) - n_states
    body_module, captured = cx.subgraph(attr(node, "body"), f"{node.name}_body")
    module = cf.OnnxScan(
        body_module, n_states,
        attr_ints(node, "scan_input_axes", [0] * n_scan_in),
        attr_ints(node, "scan_input_directions", [0] * n_scan_in),
        attr_ints(node, "scan_output_axes", [0] * n_scan_out),
        attr_ints(node, "scan_output_directions", [0] * n_scan_out),
    )
    args = [inputs[:n_states], inputs[n_states:], captured]
    return cx.module(f"{node.name or 'scan'}", module, args, len(node.outputs))


def _is_sequence(value: ir.Value | None) -> bool:
    kind = value.type if value is not None else None
    if isinstance(kind, ir.OptionalType):
        kind = kind.elem_type
    return isinstance(kind, ir.SequenceType)


def _optional_kernel(tensor_fn, sequence_fn):
    def emit(cx: EmitContext, node: ir.Node) -> list:
        value = node.inputs[0] if node.inputs else None
        return cx.call(sequence_fn if _is_sequence(value) else tensor_fn, cx.inputs(node, 1)[:1])

    return emit


def _optional(cx: EmitContext, node: ir.Node) -> list:
    if node.inputs and node.inputs[0] is not None:
        return _optional_kernel(sq.wrap_tensor, sq.wrap_sequence)(cx, node)
    type_attr = attr(node, "type")
    is_seq = isinstance(type_attr, ir.SequenceType)
    return cx.call(sq.none_sequence if is_seq else sq.none_tensor, [])


def _split_to(cx: EmitContext, node: ir.Node) -> list:
    args = [*cx.inputs(node, 2), attr_int(node, "axis", 0), attr_int(node, "keepdims", 1)]
    return cx.call(sq.split_to, args)


def _concat_from(cx: EmitContext, node: ir.Node) -> list:
    args = [cx.inputs(node)[0], attr_int(node, "axis", 0), attr_int(node, "new_axis", 0)]
    return cx.call(sq.concat_from, args)


def _construct(cx: EmitContext, node: ir.Node) -> list:
    return cx.call(sq.construct, [cx.inputs(node)])


def entries() -> dict[str, tuple[Lowering, ...]]:
    flow = dict(dtypes=ALL_TORCH, check=_check_tensor_bodies)
    return {
        "If": (Lowering(_if, **flow),),
        "Loop": (Lowering(_loop, **flow),),
        "Scan": (Lowering(_scan, since=9, **flow),),
        "SequenceConstruct": (Lowering(_construct, since=11, dtypes=ALL_TORCH),),
        "SequenceEmpty": (Lowering(kernel(sq.empty, 0), since=11, dtypes=ALL_TORCH),),
        "SequenceInsert": (Lowering(kernel(sq.insert, 3), since=11, dtypes=ALL_TORCH),),
        "SequenceAt": (Lowering(kernel(sq.at, 2), since=11, dtypes=ALL_TORCH),),
        "SequenceErase": (Lowering(kernel(sq.erase, 2), since=11, dtypes=ALL_TORCH),),
        "SequenceLength": (Lowering(kernel(sq.length, 1), since=11, dtypes=ALL_TORCH),),
        "ConcatFromSequence": (Lowering(_concat_from, since=11, dtypes=ALL_TORCH),),
        "SplitToSequence": (Lowering(_split_to, since=11, dtypes=ALL_TORCH),),
        "Optional": (Lowering(_optional, since=15, dtypes=ALL_TORCH),),
        "OptionalHasElement": (Lowering(_optional_kernel(sq.has_tensor, sq.has_sequence),
                                        since=15, dtypes=ALL_TORCH),),
        "OptionalGetElement": (Lowering(_optional_kernel(sq.get_tensor, sq.get_sequence),
                                        since=15, dtypes=ALL_TORCH),),
    }
