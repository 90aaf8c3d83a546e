"""ONNX (onnx-ir) -> .tflite, written straight into the flatbuffer, then loaded in LiteRT.

Every node goes through the lowering table (graphkit.backends.tflite.lowering); a node it
declines stops the conversion with the same sentence `diagnose --target tflite` gives.
Graph inputs and outputs keep their ONNX names and layout (an NCHW image input gets one
TRANSPOSE to NHWC after it, and the output one back), and the SignatureDef carries the
names, so `Interpreter(...).get_signature_runner()` runs the file without graphkit.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import onnx_ir as ir

from graphkit._output import check_output_path, staged_file
from graphkit._quiet import native_logs_off
from graphkit.backends.artifact import Artifact
from graphkit.backends.tflite import lowering
from graphkit.backends.tflite._flatbuffer import ModelBuilder
from graphkit.backends.tflite._fuse import compact, fuse
from graphkit.backends.tflite.lowering._base import NHWC, EmitContext, Stored
from graphkit.backends.tflite.lowering._flex import emit_flex, flex_reason
from graphkit.backends.tflite.runner import LAYOUT_METADATA, interpreter
from graphkit.errors import InputError, first_line
from graphkit.targets._facts import infer_value_facts
from graphkit.targets.base import ValueFacts

SUFFIXES = (".tflite",)
# What convert runs, proven like the fixes, after them and before emit: NHWC image ops
# (graphkit.nhwc local functions, run by ONNX Runtime for the proof), Transposes pushed
# to the edges and cancelled. After the fusions, since pad-conv and conv-bn read NCHW Convs.
PREPARE = "convert-layout{to=NHWC},outline-gelu,remove-dead-nodes"
FLEX_REFUSED = "Select TensorFlow op(s)"  # LiteRT's error for Flex ops it cannot run


def emit(model: ir.Model, output: str | os.PathLike, *, nhwc_io: bool = False,
         allow_flex: bool = False) -> Artifact:
    """Write `output` (.tflite) atomically, once LiteRT has loaded and prepared it.

    `nhwc_io`: 4-D inputs and outputs are NHWC in the artifact (a CNN then needs no
    TRANSPOSE at all); their names are recorded in the file's metadata, from which
    graphkit's runner maps the ONNX layout when it validates.
    `allow_flex`: a node no builtin lowers but a TensorFlow op computes is written as a
    Select TF op (Flex), listed in the metadata; such a file needs LiteRT's Flex delegate."""
    output = check_output_path(output, SUFFIXES, "the TFLite artifact")
    values, _ = infer_value_facts(model)
    flex_nodes = check_lowerable(model, values, allow_flex)
    builder = ModelBuilder()
    ctx = EmitContext(builder, values)
    inputs = _inputs(ctx, model.graph, nhwc_io)
    flex: list[str] = []
    for node in model.graph:
        try:
            if id(node) in flex_nodes:
                flex.append(emit_flex(ctx, node))
                continue
            lowering.emit_node(ctx, node, _opset(model))
        except (ValueError, KeyError) as err:
            raise InputError(f"node '{node.name or node.op_type}' ({node.op_type}): "
                             f"cannot be lowered to TFLite: {first_line(err)}") from None
    outputs = _outputs(ctx, model.graph, {index for _, index in inputs}, nhwc_io)
    inputs, outputs = _fused(builder, inputs, outputs)
    nhwc = [name for name, index in [*inputs, *outputs]
            if nhwc_io and len(builder.tensors[index].shape) == 4]
    layout = json.dumps({"nhwc": nhwc}).encode()
    try:
        data = builder.finish(inputs, outputs, "graphkit", {LAYOUT_METADATA: layout})
    except ValueError as err:
        raise InputError(f"the model is too large for a .tflite file: {err}") from None
    unrunnable = _write_checked(data, output, flex)
    metadata = _metadata(builder, inputs, outputs)
    metadata["nhwc"] = nhwc
    if flex:
        metadata["flex"] = sorted(set(flex))
        metadata["notes"].append(f"Select TF ops (Flex): {', '.join(metadata['flex'])}")
    if unrunnable:
        metadata["not_runnable_here"] = unrunnable
        metadata["notes"].append(f"not validated: {unrunnable}")
    return Artifact(path=output, target="tflite", metadata=metadata)


def accepted_findings(allow_flex: bool = False, **_options) -> frozenset[str]:
    """Blockers diagnose reports that these emit options take on: Flex ops (GK107) with
    --allow-flex, written as Select TF ops."""
    return frozenset({"GK107"}) if allow_flex else frozenset()


def check_lowerable(model: ir.Model, values: ValueFacts, allow_flex: bool = False) -> set[int]:
    """InputError for the first node the lowering declines (nested graphs included), or
    for an opset outside the range it lowers. With `allow_flex`, a main-graph node that
    only a Flex op computes is accepted: the ids of those nodes."""
    opset = _opset(model)
    low, high = lowering.opset_range()
    if not low <= opset <= high:
        raise InputError(f"the model uses ai.onnx opset {opset}; TFLite accepts {low}..{high} "
                         "(graphkit fix --target tflite converts it)")
    flex = set()
    # a node lowered as its function body has its graph attributes inlined there
    inlined = partial(lowering.lowers_by_body, opset=opset, values=values)
    for node in ir.traversal.RecursiveGraphIterator(model.graph,
                                                    recursive=lambda n: not inlined(n)):
        reason = lowering.unsupported_reason(node, opset, values)
        if reason is not None and allow_flex and node.graph is model.graph \
                and flex_reason(node, values) is None:
            flex.add(id(node))
        elif reason is not None:
            raise InputError(f"node '{node.name or node.op_type}' ({node.op_type}): {reason}")
    return flex


def _opset(model: ir.Model) -> int:
    return model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1))


def _inputs(ctx: EmitContext, graph: ir.Graph, nhwc_io: bool) -> list[tuple[str, int]]:
    """Tensors for the graph inputs that are not initializers (those are constants)."""
    made = []
    for value in graph.inputs:
        if value.name in graph.initializers:
            continue
        shape = ctx.values.shape(value)
        if shape is None:
            raise InputError(f"input '{value.name}': TFLite needs each input's rank")
        if why := lowering.input_refused(value, ctx.values):
            raise InputError(why)
        signature = [d if isinstance(d, int) else -1 for d in shape]
        perm = NHWC if nhwc_io and len(signature) == 4 else None
        if perm is not None:
            signature = [signature[axis] for axis in perm]
        concrete = [max(d, 1) for d in signature]
        tensor = ctx.builder.tensor(value.name, ctx.dtype(value), concrete, signature=signature)
        ctx.stored[id(value)] = Stored(tensor, perm)
        made.append((value.name, tensor))
    return made


def _outputs(ctx: EmitContext, graph: ir.Graph, inputs: set[int], nhwc_io: bool
             ) -> list[tuple[str, int]]:
    """Each output in the ONNX layout, in a tensor of its own (an output that is an input,
    a constant or another output gets a copy: the interpreter needs distinct tensors)."""
    made: list[tuple[str, int]] = []
    used = set(inputs)
    for value in graph.outputs:
        perm = NHWC if nhwc_io and len(ctx.shape_or_none(value) or ()) == 4 else None
        tensor = ctx.input(value, perm)
        constant = ctx.builder.tensors[tensor].buffer != 0
        if tensor in used or constant:
            shape = ctx._stored_shape(value, perm) or []
            copy = ctx.builder.tensor(value.name, ctx.dtype(value), shape)
            ctx.op("RESHAPE", [tensor, ctx.int32(shape)], [copy])
            tensor = copy
        used.add(tensor)
        made.append((value.name, tensor))
        _dynamic_signature(ctx, value, tensor, perm)
    return made


def _dynamic_signature(ctx: EmitContext, value: ir.Value, tensor: int, perm) -> None:
    """An output's dynamic dims as -1 in its shape_signature, as the inputs have them."""
    shape = ctx.values.shape(value)
    written = ctx.builder.tensors[tensor]
    if shape is None or all(isinstance(d, int) for d in shape) \
            or len(written.shape) != len(shape):
        return
    signature = [d if isinstance(d, int) else -1 for d in shape]
    written.shapeSignature = signature if perm is None else [signature[a] for a in perm]


def _fused(builder: ModelBuilder, inputs, outputs):
    """The emitted operators with activations, affines and reshape chains folded (_fuse),
    and the graph's inputs and outputs renumbered for the tensors that remain."""
    fuse(builder, {index for _, index in outputs})
    remap = compact(builder, [index for _, index in [*inputs, *outputs]])
    return ([(name, remap[index]) for name, index in inputs],
            [(name, remap[index]) for name, index in outputs])


def _write_checked(data: bytes, output: Path, flex: list[str]) -> str | None:
    """Stage the file beside `output`, have LiteRT load and prepare it, then publish.
    Returns why the file cannot run here (Flex ops where LiteRT has no Flex delegate)."""
    with staged_file(output) as temp:
        Path(temp).write_bytes(data)
        try:
            with native_logs_off():
                interpreter(temp).allocate_tensors()
        except (RuntimeError, ValueError) as err:
            if flex and FLEX_REFUSED in str(err):
                return ("LiteRT here has no Flex delegate to run the Select TF ops "
                        f"({', '.join(sorted(set(flex)))})")
            raise InputError(f"LiteRT refuses the emitted model: {first_line(err)}") from None
    return None


def _metadata(builder: ModelBuilder, inputs, outputs) -> dict:
    custom = builder.counts.get("CUSTOM", 0)  # Flex ops (counted by opcode after fusing)
    return {
        "format": "tflite",
        "operators": len(builder.operators),
        "transposes": builder.counts.get("TRANSPOSE", 0),
        "builtins": dict(sorted(builder.counts.items())),
        "inputs": [name for name, _ in inputs],
        "outputs": [name for name, _ in outputs],
        "notes": [f"{len(builder.operators) - custom} builtin operators, "
                  f"{builder.counts.get('TRANSPOSE', 0)} of them TRANSPOSE"],
    }

