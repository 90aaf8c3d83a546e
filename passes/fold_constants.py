"""Op(c1, c2, ...) -> Constant: evaluate nodes whose inputs are all known, up to a size cap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit.ir._walk import CONTROL_FLOW
from graphkit.passmanager import Pass, PassContext, PassResult, Request, instantiate
from graphkit.rewrite import constant_value

# Folding these would freeze one random draw into the model.
NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
     "Bernoulli"}
)
# Ops whose evaluation needs more than their inputs (control flow, sequences, state).
NOT_FOLDABLE = NONDETERMINISTIC | CONTROL_FLOW | {"Constant", "Optional", "SequenceConstruct",
                                                 "SequenceEmpty"}


@dataclass(frozen=True)
class FoldConstants(Pass):
    name = "fold-constants"
    kind = "rewrite"
    # Results larger than this stay computed at run time (a file need not hold what a few
    # nodes compute). 0: no limit, for a target that needs the values constant (GK105).
    max_bytes: int = 1 << 20
    # A DequantizeLinear of constants is a quantized weight: folding it would store the
    # weight in float and undo the quantization (onnxruntime's own folding keeps it too).
    # A target names the ones it cannot take: dequantize=int32 folds those whose data is
    # int32 (quantized biases), dequantize=all every one.
    dequantize: tuple[str, ...] = ()

    @classmethod
    def for_target(cls, target: Any, model: ir.Model, options: Mapping[str, str],
                   request: Request) -> Pass:
        """A finding asks for the constants the target needs: of any size, unless told."""
        return instantiate(cls, {"max-bytes": "0", **options})

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        """All foldable nodes are evaluated in one run of the reference evaluator (one
        evaluator per node cost ~0.1 ms each, 720 of them on the benchmark); if that run
        fails on any node, they are evaluated one by one, so one op the evaluator lacks
        does not stop the others from folding."""
        graph = model.graph
        opset = model.opset_imports.get("", 1)
        plan = self._plan(graph)
        results = _evaluate_all(plan, opset) if plan else {}
        changes: list[str] = []
        folded = 0
        for node in plan:  # in graph order: a producer is replaced before its consumers
            if not all(value is None or _is_constant(value) for value in node.inputs):
                continue  # a producer of its inputs was too large to fold
            found = results if results is not None else \
                _evaluate_all([node], _evaluation_opset(node, opset))
            if found is None:
                continue  # an op the evaluator cannot run stays as it is
            outputs = [found[value] for value in node.outputs]
            if not all(isinstance(array, np.ndarray) for array in outputs):
                continue
            if self.max_bytes and sum(array.nbytes for array in outputs) > self.max_bytes:
                continue
            _replace_with_constants(graph, node, outputs)
            folded += 1
            changes.append(f"folded {node.op_type} '{node.name}'")
        return PassResult(modified=folded > 0, changes=changes)

    def _plan(self, graph: ir.Graph) -> list[ir.Node]:
        """Nodes that fold once the ones before them in the list have (main graph, in order)."""
        plan: list[ir.Node] = []
        planned: set[ir.Value] = set()
        for node in graph:
            if not node.inputs or not self._foldable(node):
                continue
            if all(value is None or value in planned or _is_constant(value)
                   for value in node.inputs):
                plan.append(node)
                planned.update(node.outputs)
        return plan

    def _foldable(self, node: ir.Node) -> bool:
        if node.domain not in ("", "ai.onnx") or node.op_type in NOT_FOLDABLE:
            return False
        if node.op_type == "DequantizeLinear" and not self._dequantizes(node):
            return False
        return not any(attr.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS)
                       for attr in node.attributes.values())

    def _dequantizes(self, node: ir.Node) -> bool:
        data = node.inputs[0] if node.inputs else None
        dtype = data.dtype.name.lower() if data is not None and data.dtype else None
        return "all" in self.dequantize or dtype in self.dequantize


def _evaluation_opset(node: ir.Node, opset: int) -> int:
    """DequantizeLinear before opset 19 computes what version 19 does for the types it took
    then; onnx's reference evaluator implements only the versions from 19 on."""
    return max(opset, 19) if node.op_type == "DequantizeLinear" else opset


def _is_constant(value: ir.Value) -> bool:
    return not value.is_graph_input() and ir.convenience.get_const_tensor(value) is not None


def _evaluate_all(nodes: list[ir.Node], opset: int) -> dict[ir.Value, object] | None:
    """Every output of `nodes` (each input a constant or an output of an earlier one), from
    one evaluator run; None if the evaluator fails on any of them. With one node, this is
    the node-by-node fallback."""
    from onnx.reference import ReferenceEvaluator

    names: dict[ir.Value, str] = {}
    feeds: dict[str, np.ndarray] = {}
    protos = []
    for node in nodes:
        for value in node.inputs:
            if value is not None and value not in names:  # a constant from outside the plan
                names[value] = f"in{len(names)}"
                feeds[names[value]] = ir.convenience.get_const_tensor(value).numpy()
        for value in node.outputs:
            names[value] = f"out{len(names)}"
        proto = ir.serde.serialize_node(node)
        del proto.input[:]
        proto.input.extend(names[v] if v is not None else "" for v in node.inputs)
        del proto.output[:]
        proto.output.extend(names[v] for v in node.outputs)
        protos.append(proto)
    produced = [value for node in nodes for value in node.outputs]
    untyped = onnx.helper.make_empty_tensor_value_info
    graph = onnx.helper.make_graph(protos, "fold", [untyped(n) for n in feeds],
                                   [untyped(names[v]) for v in produced])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception:  # an op the evaluator cannot run: the caller goes node by node
        return None
    if len(results) != len(produced):
        return None
    return {value: np.asarray(r) if isinstance(r, np.ndarray) else r
            for value, r in zip(produced, results)}


def _replace_with_constants(graph: ir.Graph, node: ir.Node, outputs: list[np.ndarray]) -> None:
    for old, array in zip(node.outputs, outputs):
        if old.dtype is not None and array.dtype != old.dtype.numpy():
            array = array.astype(old.dtype.numpy())
        name = old.name
        old.name = f"{name}__folded"
        constant = constant_value(array, name)
        graph.register_initializer(constant)
        ir.convenience.replace_all_uses_with(old, constant, replace_graph_outputs=True)
    graph.remove(node, safe=True)
