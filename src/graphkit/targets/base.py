"""What a target's analysis is given: a node, where it sits, and the inferred facts.

A target is data (its table under opsets/) plus small named predicates in code. The
diagnose driver walks every node once (main graph, subgraphs, function bodies), after
shape and type inference, and asks the target; the findings it returns carry the code
and the fix (a pass name) that `graphkit fix` uses to choose passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import onnx_ir as ir

# A dimension after inference: a size, a symbolic name, or None where nothing is known.
Dim = int | str | None


@dataclass(frozen=True)
class ValueFacts:
    """Types and shapes after shape inference, by value name (filled once per model).

    The IR's own annotations win where present; the inferred ones fill the gaps. Values
    whose type nothing determines (e.g. inside function bodies) answer None: a target
    should then skip a dtype check rather than guess.
    """

    types: Mapping[str, ir.TypeProtocol] = field(default_factory=dict)
    shapes: Mapping[str, tuple[Dim, ...]] = field(default_factory=dict)
    # what a target computes from these facts once per model and keeps with them (the
    # TFLite lowering's folded constants); not a fact itself, so never compared
    folded: dict = field(default_factory=dict, compare=False, repr=False)

    def type(self, value: ir.Value | None) -> ir.TypeProtocol | None:
        if value is None:
            return None
        return value.type if value.type is not None else self.types.get(value.name)

    def dtype(self, value: ir.Value | None) -> ir.DataType | None:
        found = self.type(value)
        return found.dtype if found is not None else None

    def shape(self, value: ir.Value | None) -> tuple[Dim, ...] | None:
        if value is None:
            return None
        if value.shape is not None:
            return tuple(d if isinstance(d, int) else d.value for d in value.shape)
        return self.shapes.get(value.name)

    @staticmethod
    def is_constant(value: ir.Value | None) -> bool:
        """An initializer no caller can override, or a Constant node's output."""
        if value is None:
            return False
        if value.const_value is not None and not value.is_graph_input():
            return True
        producer = value.producer()
        return producer is not None and producer.op_type == "Constant" and producer.domain == ""

    @staticmethod
    def is_weight(value: ir.Value | None) -> bool:
        """A constant, or a quantized constant: DequantizeLinear of constant data, scale and
        zero point. Targets that take Q/DQ read that pattern as the quantized weight of the
        op it feeds (TFLite's int8 Conv, TensorRT's explicit quantization, ORT's QDQ
        fusions), so it satisfies "must be a constant" as well as a plain initializer."""
        if ValueFacts.is_constant(value):
            return True
        producer = value.producer() if value is not None else None
        if producer is None or producer.op_type != "DequantizeLinear":
            return False
        given = [v for v in producer.inputs if v is not None and v.name != ""]
        return producer.domain in ("", "ai.onnx") and all(map(ValueFacts.is_constant, given))


@dataclass(frozen=True)
class NodeContext:
    """Where a node sits: what a target may need besides the node itself."""

    opset: int  # the model's ai.onnx opset (opset of the node's domain: see `opsets`)
    opsets: dict[str, int]  # domain -> version, as imported by the model
    graph: ir.Graph | ir.Function  # the graph or function body that holds the node
    in_subgraph: bool  # inside If/Loop/Scan bodies or a function
    values: ValueFacts = field(default_factory=ValueFacts)  # inferred types and shapes
    functions: Mapping[ir.OperatorIdentifier, ir.Function] = field(default_factory=dict)

    def domain_version(self, domain: str) -> int | None:
        return self.opsets.get("" if domain == "ai.onnx" else domain)

    def is_local_function(self, node: ir.Node) -> bool:
        """The node calls a function defined in the model (run by inlining its body)."""
        return (node.domain, node.op_type, node.overload) in self.functions
