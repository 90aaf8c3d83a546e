"""NonMaxSuppression -> keep | native (fixed-size padded) | plugin (EfficientNMS_TRT) |
cut (separate post model).

- keep: leave it (a target that runs ONNX NMS as it is).
- native: NMS plus a top-K and padding in plain ONNX ops, giving EfficientNMS's four
  static-shape outputs; runs anywhere, batch 1 (the fixed-size form TFLite wants).
- plugin: TensorRT's EfficientNMS_TRT node (domain TRT) with the same four outputs.
- cut: the graph stops before NMS; NMS, everything after it, and the Gather/Slice/
  Squeeze chains that only feed it move to a small post-processing model that reads
  the main graph's new outputs. Running main then post gives the original outputs.

native and plugin replace the outputs downstream of NMS by the four detection
outputs (`PassResult.outputs_replaced`); cut hands back the post model
(`PassResult.post_models`), which the caller saves as `<stem>.post.onnx`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import onnx_ir as ir
from onnx_ir.passes.common import RemoveUnusedNodesPass

from graphkit.errors import InputError
from graphkit.findings import Finding, Severity
from graphkit.ir import copy_model
from graphkit.passes._graph_edit import infer_shapes
from graphkit.passes._nms_forms import (
    DETECTION_OUTPUTS,
    max_detections,
    padded,
    plugin,
    read_nms,
)
from graphkit.passmanager import Pass, PassContext, PassResult, Request, instantiate
from graphkit.rewrite import Builder, Decline

MODES = ("keep", "native", "plugin", "cut")
# Ops that only select, reshape or re-type boxes and scores on their way into NMS: when
# nothing else reads them they belong to the post-processing, not the network.
SELECTION_OPS = frozenset({
    "Slice", "Gather", "GatherND", "GatherElements", "Squeeze", "Unsqueeze", "Transpose", "Reshape",
    "Flatten", "Cast", "Identity", "Shape", "Constant", "ConstantOfShape", "Expand",
    "TopK", "ArgMax", "ReduceMax",
})
POST_MODEL_KEY = "graphkit.post_model_of"  # metadata on the post model: the main graph's name


@dataclass(frozen=True)
class Nms(Pass):
    name = "nms"
    kind = "rewrite"
    fixes = ("GK109",)
    mode: str = "keep"
    max_detections: int = 0  # K for native/plugin; 0: per-class limit x classes

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"nms: mode '{self.mode}' is not one of {', '.join(MODES)}")

    @classmethod
    def for_target(cls, target: Any, model: ir.Model, options: Mapping[str, str],
                   request: Request) -> Pass:
        """Unless told which: the form the user asked for, else the target's."""
        return instantiate(cls, {"mode": request.nms, **options})

    @property
    def replaces_outputs(self) -> bool:
        return self.mode in ("native", "plugin")  # cut keeps them, through its post model

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        nodes = [n for n in model.graph
                 if n.op_type == "NonMaxSuppression" and n.domain in ("", "ai.onnx")]
        if not nodes or self.mode == "keep":
            return PassResult()
        try:
            if self.mode == "cut":
                return cut_before_nms(model, nodes)
            if len(nodes) > 1:
                raise Decline(f"{len(nodes)} NonMaxSuppression nodes; "
                              f"the {self.mode} form takes one")
            if self.mode == "native" and _gives_detections(model.graph, nodes[0]):
                return PassResult()  # in the padded form already (a second run)
            return self._replace(model, nodes[0])
        except Decline as why:
            return PassResult(findings=[Finding("GK505", Severity.WARNING,
                                                f"nms {self.mode}: {why}", node=nodes[0].name,
                                                op="NonMaxSuppression", fix=None)])

    def _replace(self, model: ir.Model, node: ir.Node) -> PassResult:
        graph = model.graph
        infer_shapes(model)  # the batch size and class count come from shapes
        spec = read_nms(node)
        k = max_detections(spec, self.max_detections)
        after = downstream(graph, [node])
        op = Builder(graph, model.opset_imports.get("", 1), f"nms/{node.name or 'nms'}")
        detections = plugin(op, spec, k) if self.mode == "plugin" else padded(op, node, spec, k)
        dropped = [v.name for v in graph.outputs
                   if v.producer() is not None and id(v.producer()) in after]
        kept = [v for v in graph.outputs if v.name not in dropped]
        graph.outputs.clear()
        graph.outputs.extend([*kept, *detections])
        for value in op.initializers:
            graph.register_initializer(value)
        graph.insert_after(node, op.nodes)
        doomed = [n for n in graph if id(n) in after and (self.mode == "plugin" or n is not node)]
        graph.remove(doomed, safe=False)
        if self.mode == "plugin":
            model.opset_imports.setdefault("TRT", 1)
        RemoveUnusedNodesPass()(model)
        note = f"outputs {dropped} replaced by {[v.name for v in detections]} (K={k})"
        if spec.max_per_class and spec.max_per_class < k and self.mode == "plugin":
            note += f"; EfficientNMS has no per-class limit (the model had {spec.max_per_class})"
        return PassResult(modified=True,
                          changes=[f"nms {self.mode}: {node.op_type} '{node.name}': {note}"],
                          outputs_replaced=True)


def _gives_detections(graph: ir.Graph, node: ir.Node) -> bool:
    """Whether the graph outputs downstream of `node` are EfficientNMS's four already:
    num_detections [B, 1] int32, boxes [B, K, 4], scores [B, K], classes [B, K] int32."""
    after = downstream(graph, [node])
    reached = [v for v in graph.outputs if v.producer() is not None and id(v.producer()) in after]
    if len(reached) != len(DETECTION_OUTPUTS) or any(v.shape is None for v in reached):
        return False
    count, boxes, scores, classes = reached
    int32 = ir.DataType.INT32
    return (count.dtype == int32 and classes.dtype == int32 and boxes.dtype == scores.dtype
            and len(count.shape) == 2 and count.shape[1] == 1 and len(boxes.shape) == 3
            and boxes.shape[2] == 4 and len(scores.shape) == 2 and len(classes.shape) == 2)


def downstream(graph: ir.Graph, roots: Iterable[ir.Node]) -> set[int]:
    """ids of `roots` and every node that reads, directly or not, one of their outputs."""
    seen: set[int] = set()
    work = list(roots)
    while work:
        node = work.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        work.extend(user for out in node.outputs for user, _ in out.uses())
    return seen


def absorb_selection_chains(region: set[int], graph: ir.Graph) -> None:
    """Grow `region` upward over selection ops whose results only the region reads."""
    changed = True
    while changed:
        changed = False
        for node in graph:
            if id(node) in region or node.op_type not in SELECTION_OPS:
                continue
            outputs = node.outputs
            if any(out.is_graph_output() for out in outputs):
                continue
            users = [user for out in outputs for user, _ in out.uses()]
            if users and all(id(user) in region for user in users):
                region.add(id(node))
                changed = True


def cut_before_nms(model: ir.Model, nms_nodes: list[ir.Node]) -> PassResult:
    graph = model.graph
    # The values crossing the cut become graph inputs/outputs, which must declare their types.
    infer_shapes(model)
    region = downstream(graph, nms_nodes)
    absorb_selection_chains(region, graph)
    post_nodes = [n for n in graph if id(n) in region]
    produced = {id(out) for n in post_nodes for out in n.outputs}
    crossing: list[ir.Value] = []
    for node in post_nodes:
        for value in node.inputs:
            if (value is None or id(value) in produced or value in crossing
                    or value.is_initializer()):
                continue
            crossing.append(value)
    untyped = [v.name for v in crossing if v.type is None or v.shape is None]
    if untyped:
        raise Decline(f"the types/shapes of {untyped} are unknown, "
                      "so they cannot become graph outputs")
    post_outputs = [v for v in graph.outputs if id(v) in produced]
    post = _extract(model, crossing, post_outputs)
    kept = [v for v in graph.outputs if id(v) not in produced]
    new_outputs = [v for v in crossing if not v.is_graph_input() and v not in kept]
    graph.outputs.clear()
    graph.outputs.extend([*kept, *new_outputs])
    graph.remove(post_nodes, safe=False)
    RemoveUnusedNodesPass()(model)
    change = (f"nms cut: {len(post_nodes)} node(s) moved to the post model; main graph now ends at "
              f"{[v.name for v in new_outputs]}")
    return PassResult(modified=True, changes=[change], post_models=[post], outputs_replaced=True)


def _extract(model: ir.Model, inputs: list[ir.Value], outputs: list[ir.Value]) -> ir.Model:
    source = copy_model(model)
    graph = ir.convenience.extract(source.graph, [v.name for v in inputs],
                                   [v.name for v in outputs])
    graph.name = f"{model.graph.name or 'model'}_post"
    post = ir.Model(graph, ir_version=model.ir_version, producer_name="graphkit")
    post.opset_imports.update(model.opset_imports)
    post.metadata_props[POST_MODEL_KEY] = model.graph.name or "model"
    return post


__all__ = ["MODES", "Nms", "cut_before_nms", "downstream"]
