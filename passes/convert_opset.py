"""Model at ai.onnx opset A -> the same model at opset N (onnx.version_converter, up or down).

Where the converter has no adapter for an op, graphkit supplies one: the node is held out
of the conversion (moved to a private domain), the rest is converted, and the node comes
back written in opset N's form. Adapters, each for a gap found in onnx's converter:
  Split-18(num_outputs)  -> Split-13/-11: equal split by output count (no `split` input);
  Pad-18/19 (no axes)    -> Pad-13/-11: the same inputs;
  Reduce*-18/-13        -> Reduce*-11: constant axes back into the attribute;
  Shape-15 (no start/end) -> Shape-13/-1: the same node;
  Add/Sub/Mul/Div/Relu-14 -> -13: the same node (14 only added integer types);
  Reshape-14 (allowzero=0) -> Reshape-13/-5: the same node;
  Identity-16, Sqrt/Exp/MatMul/...-13 -> older versions: the same node (types widened);
  an op that opset N lacks (LayerNormalization-17, Gelu-20, ...) -> `decompose` first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import onnx
import onnx_ir as ir
from onnx import version_converter

from graphkit.errors import InputError, first_line
from graphkit.ir._load import keep_base_dirs
from graphkit.passes.decompose import REPLACEMENT_MIN_OPSET, decompose_ops
from graphkit.passmanager import Pass, PassContext, PassResult, Request, instantiate

HOLD_DOMAIN = "graphkit.held"
REDUCE_13 = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
             "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")


def _split_down(node: ir.Node, to: int) -> bool:
    if node.attributes.get("num_outputs") is None:
        return to >= 13 or len(node.inputs) < 2  # explicit sizes: same input from 13 on
    del node.attributes["num_outputs"]  # Split-13 without sizes splits equally by outputs
    return True


def _pad_down(node: ir.Node, to: int) -> bool:
    return to >= 11 and (len(node.inputs) < 4 or node.inputs[3] is None)


def _reduce_down(node: ir.Node, to: int) -> bool:
    """Reduce*-18 took axes as an input; before, an attribute (a constant input moves there)."""
    if len(node.inputs) >= 2 and node.inputs[1] is not None:
        axes = ir.convenience.get_const_tensor(node.inputs[1])
        if axes is None:
            return False
        node.attributes["axes"] = ir.AttrInt64s("axes", [int(a) for a in axes.numpy().ravel()])
        node.resize_inputs(1)
    return True


def _shape_down(node: ir.Node, to: int) -> bool:
    return "start" not in node.attributes and "end" not in node.attributes  # added in 15


def _reshape_down(node: ir.Node, to: int) -> bool:
    if node.attributes.get_int("allowzero", 0) != 0:
        return False
    node.attributes.pop("allowzero", None)  # arrived in 14; 0 is the old behaviour
    return True


def _constant_down(node: ir.Node, to: int) -> bool:
    return to >= 12 or "value" in node.attributes  # value_float/value_ints/... arrived in 12


def _same_form(node: ir.Node, to: int) -> bool:
    return True  # the newer version only widened the types (Identity-16: optionals)


UNARY_13 = ("Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Sigmoid", "Tanh",
            "Erf", "MatMul", "Transpose", "Concat", "Gather", "Cast", "Equal", "Less", "Greater")
# op -> (the lowest opset at which the node's form is still valid, the rewrite into it).
ADAPTERS: dict[str, tuple[int, Callable[[ir.Node, int], bool]]] = {
    "Split": (2, _split_down),
    "Pad": (11, _pad_down),
    **{op: (1, _reduce_down) for op in REDUCE_13},
    "Identity": (1, _same_form),
    "Constant": (1, _constant_down),
    "Shape": (1, _shape_down),
    "Reshape": (5, _reshape_down),
    "Slice": (10, _same_form),  # inputs since 10; 13 only widened types
    "Gemm": (11, _same_form),  # C optional since 11; 13 only widened types
    **{op: (7, _same_form) for op in ("Add", "Sub", "Mul", "Div")},  # 7: numpy broadcasting
    **{op: (6, _same_form) for op in ("Relu",) + UNARY_13},  # later versions widened types
}
_MISSING = re.compile(r"(?:No Adapter (?:From|To) Version \$\d+ for|No Previous Version of) (\w+)")


@dataclass(frozen=True)
class ConvertOpset(Pass):
    name = "convert-opset"
    kind = "rewrite"
    fixes = ("GK103",)
    to: int = 17

    @classmethod
    def for_target(cls, target: Any, model: ir.Model, options: Mapping[str, str],
                   request: Request) -> Pass:
        """Unless told where to: the model's opset, moved into the target's range."""
        if "to" not in options:
            low, high = target.opset_range()
            options = {**options, "to": str(min(max(model.opset_imports.get("", low), low), high))}
        return instantiate(cls, options)

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        source = model.opset_imports.get("", 1)
        if source == self.to:
            return PassResult()
        changes: list[str] = []
        for _ in range(2 * (len(ADAPTERS) + len(REPLACEMENT_MIN_OPSET)) + 1):
            try:
                converted = _convert(model, self.to)
                break
            except (RuntimeError, onnx.checker.ValidationError) as err:
                op = _missing_op(err)
                changes.append(self._work_around(model, op, ctx, str(err)))
        else:
            raise InputError(f"convert-opset: could not reach opset {self.to}")
        _adopt(model, converted)
        changes += _put_back(model, self.to, source)
        _check(model, self.to)
        changes.insert(0, f"converted ai.onnx opset {source} -> {self.to}")
        return PassResult(modified=True, changes=changes)

    def _work_around(self, model: ir.Model, op: str | None, ctx: PassContext, error: str) -> str:
        if op in ADAPTERS and ADAPTERS[op][0] <= self.to:
            count = _hold(model, op)  # again after a decomposition wrote new ones
            if count:
                return f"held {count} {op} node(s) out of onnx's converter (graphkit adapter)"
        if op in REPLACEMENT_MIN_OPSET and REPLACEMENT_MIN_OPSET[op] <= self.to:
            decompose_ops(model, ctx, (op,))
            return f"decomposed {op} (no {op} at opset {self.to})"
        raise InputError(f"convert-opset: onnx's converter cannot take this model to opset "
                         f"{self.to} and graphkit has no adapter: {first_line(error, 200)}")


def _missing_op(err: Exception) -> str | None:
    match = _MISSING.search(str(err))
    return match.group(1) if match else None


def _convert(model: ir.Model, to: int) -> onnx.ModelProto:
    proto = version_converter.convert_version(ir.to_proto(model), to)
    onnx.checker.check_model(proto)
    return proto


def _check(model: ir.Model, to: int) -> None:
    try:
        onnx.checker.check_model(ir.to_proto(model))
    except onnx.checker.ValidationError as err:
        raise InputError(f"convert-opset: the model at opset {to} fails the ONNX checker: "
                         f"{first_line(err, 200)}") from None


def _hold(model: ir.Model, op: str) -> int:
    count = 0
    for node in model.graph:
        if node.op_type == op and node.domain in ("", "ai.onnx"):
            node.domain = HOLD_DOMAIN
            count += 1
    model.opset_imports[HOLD_DOMAIN] = 1
    return count


def _adopt(model: ir.Model, proto: onnx.ModelProto) -> None:
    """Take the converted graph into `model` (passes change the model they are given)."""
    converted = ir.serde.deserialize_model(proto)
    keep_base_dirs(model, converted)
    model.graph = converted.graph  # the opset imports travel with the graph
    model.ir_version = converted.ir_version


def _put_back(model: ir.Model, to: int, source: int) -> list[str]:
    changes = []
    for node in model.graph:
        if node.domain != HOLD_DOMAIN:
            continue
        _, adapt = ADAPTERS[node.op_type]
        if not adapt(node, to):
            raise InputError(f"convert-opset: {node.op_type} '{node.name}' uses a form of opset "
                             f"{source} that has no equivalent at opset {to}")
        node.domain = ""
        changes.append(f"{node.op_type} '{node.name}' rewritten in opset {to} form")
    model.opset_imports.pop(HOLD_DOMAIN, None)
    return changes
