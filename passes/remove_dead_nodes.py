"""Node whose outputs nobody reads -> (removed); unused initializers and optional outputs too.

One sweep per graph from its last node to its first: a consumer is decided before its
producers, so a whole dead chain goes in one pass. Subgraphs and model-local functions are
swept as well. A node that stays loses its unused optional outputs (a Dropout's mask, an
LSTM's last states) and its trailing omitted inputs, which is what the ONNX schema allows
and what runtimes then need not compute.

Written here rather than with onnx-ir's RemoveUnusedNodesPass, which looks up the schema
of every node it keeps: 0.09 s of the 8,064-node benchmark's fix, where a schema is needed
only for the few nodes that have an output nobody reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import onnx
import onnx_ir as ir

from graphkit.ir._schema import onnx_schema
from graphkit.passmanager import Pass, PassContext, PassResult, count_nodes


@dataclass(frozen=True)
class RemoveDeadNodes(Pass):
    name = "remove-dead-nodes"
    kind = "rewrite"
    preserves_shapes = True
    reaches_subgraphs = True  # sweeps If/Loop/Scan bodies and functions (diagnose reads it)

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        before = count_nodes(model)
        opset = model.opset_imports.get("", 1)
        tally = _Tally()
        _sweep(model.graph, opset, tally)
        for function in model.functions.values():
            _sweep(function, function.opset_imports.get("", opset), tally)
        graph = model.graph
        kept = set(graph.inputs) | set(graph.outputs)
        unused = [name for name, value in graph.initializers.items()
                  if value not in kept and not value.uses()]
        for name in unused:
            del graph.initializers[name]
        changes = []
        removed = before - count_nodes(model)
        if removed:
            changes.append(f"removed {removed} node(s) whose outputs were never used")
        if unused:
            changes.append(f"removed {len(unused)} unused initializer(s)")
        if tally.dropped:
            changes.append(f"dropped {tally.dropped} optional output(s) nobody reads")
        if tally.trimmed:
            changes.append(f"cut {tally.trimmed} omitted trailing input(s)")
        modified = bool(removed or unused or tally.dropped or tally.trimmed)
        return PassResult(modified=modified, changes=changes)


@dataclass
class _Tally:
    """What the sweeps changed besides removing nodes."""

    dropped: int = 0  # optional outputs unnamed or cut off
    trimmed: int = 0  # omitted trailing inputs cut off


def _sweep(graph: ir.Graph | ir.Function, opset: int, tally: _Tally) -> None:
    """Remove the graph's dead nodes, and the optional outputs and inputs nobody needs."""
    outputs = frozenset(graph.outputs)
    for node in reversed(graph):
        unread = [out for out in node.outputs if out not in outputs and not out.uses()]
        if len(unread) == len(node.outputs):
            graph.remove(node, safe=True)
            continue
        if unread:
            tally.dropped += _drop_optional_outputs(node, unread, opset)
        count = len(node.inputs)
        while count and node.inputs[count - 1] is None:
            count -= 1
        if count < len(node.inputs):
            tally.trimmed += len(node.inputs) - count
            node.resize_inputs(count)
        for attr in node.attributes.values():
            if attr.type == ir.AttributeType.GRAPH:
                _sweep(attr.as_graph(), opset, tally)
            elif attr.type == ir.AttributeType.GRAPHS:
                for subgraph in attr.as_graphs():
                    _sweep(subgraph, opset, tally)


def _drop_optional_outputs(node: ir.Node, unread: list[ir.Value], opset: int) -> int:
    """Unname the unread outputs the schema marks optional, then cut the unnamed tail;
    return how many were unnamed or cut (an output unnamed already and kept is not counted,
    so a second sweep reports nothing)."""
    optional = _optional_outputs(node.domain, node.op_type, opset)
    if not optional:
        return 0
    if node.op_type == "BatchNormalization" and not _inference_batch_norm(node, opset):
        return 0  # its extra outputs are what training mode computes
    unnamed_before = {id(out) for out in node.outputs if not out.name}
    dropped = 0
    for index, out in enumerate(node.outputs):
        if out in unread and index < len(optional) and optional[index] and out.name:
            out.name = ""
            dropped += 1
    count = len(node.outputs)
    while count and not node.outputs[count - 1].name:
        count -= 1
    dropped += sum(1 for out in node.outputs[count:] if id(out) in unnamed_before)
    node.resize_outputs(count)
    if dropped and node.op_type == "BatchNormalization":
        node.attributes.pop("training_mode", None)
    return dropped


def _inference_batch_norm(node: ir.Node, opset: int) -> bool:
    """Before opset 14 the number of outputs chose training mode; since, training_mode does."""
    if opset < 14:
        return False
    mode = node.attributes.get("training_mode")
    return mode is None or (mode.type == ir.AttributeType.INT and not mode.is_ref()
                            and mode.as_int() == 0)


@cache
def _optional_outputs(domain: str, op_type: str, opset: int) -> tuple[bool, ...]:
    """Per output, whether the schema lets it be omitted; () when there is nothing to drop."""
    schema = onnx_schema(op_type, opset) if domain in ("", "ai.onnx") else None
    if schema is None:
        return ()
    options = [out.option for out in schema.outputs]
    if onnx.defs.OpSchema.FormalParameterOption.Variadic in options:
        return ()
    return tuple(option == onnx.defs.OpSchema.FormalParameterOption.Optional
                 for option in options)
