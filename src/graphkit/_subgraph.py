"""A contiguous run of a graph's nodes (in topological order) as a model of its own.

What `graphkit reduce` cuts a failing model into: nodes [start, end] of the main graph, with
the values they read from earlier nodes as typed graph inputs, and chosen values (by default
those that later nodes or the graph's outputs read) as its outputs. Types come from one ONNX
shape inference over the whole model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import onnx


@dataclass
class Slicer:
    model: onnx.ModelProto  # shape-inferred, weights inline
    nodes: list[onnx.NodeProto] = field(init=False)
    types: dict[str, onnx.ValueInfoProto] = field(init=False)
    initializers: dict[str, onnx.TensorProto] = field(init=False)

    def __post_init__(self) -> None:
        graph = self.model.graph
        self.nodes = list(graph.node)
        self.types = {v.name: v for v in [*graph.value_info, *graph.input, *graph.output]}
        self.initializers = {t.name: t for t in graph.initializer}

    @classmethod
    def of(cls, model: onnx.ModelProto) -> Slicer:
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001 (inference fails on odd models: cut without types)
            inferred = model
        return cls(inferred)

    def frontier(self, start: int, end: int) -> list[str]:
        """Values made in [start, end] that later nodes or the graph's outputs read."""
        later = _reads(self.nodes[end + 1:]) | {v.name for v in self.model.graph.output}
        made = [name for node in self.nodes[start:end + 1] for name in node.output if name]
        return [name for name in made if name in later] or list(self.nodes[end].output[:1])

    def cut(self, start: int, end: int, outputs: Sequence[str] | None = None
            ) -> onnx.ModelProto | None:
        """Nodes [start, end] needed for `outputs` (default: the frontier) as a model; None
        where a value it would read from outside has no known tensor type."""
        outputs = list(outputs) if outputs is not None else self.frontier(start, end)
        kept = _needed(self.nodes[start:end + 1], outputs)
        made = {name for node in kept for name in node.output if name}
        read = _reads(kept)
        graph_inputs = [name for name in _ordered(kept) if name in read and name not in made
                        and name not in self.initializers]
        if any(not self._typed(name) for name in [*graph_inputs, *outputs]):
            return None
        graph = onnx.helper.make_graph(
            kept, f"{self.model.graph.name or 'graph'}_nodes_{start}_{end}",
            [self.types[name] for name in graph_inputs], [self.types[name] for name in outputs],
            [self.initializers[name] for name in sorted(read) if name in self.initializers])
        sliced = onnx.helper.make_model(graph, opset_imports=self.model.opset_import,
                                        ir_version=self.model.ir_version)
        sliced.functions.extend(self.model.functions)
        return sliced

    def _typed(self, name: str) -> bool:
        info = self.types.get(name)
        return info is not None and info.type.HasField("tensor_type") and bool(
            info.type.tensor_type.elem_type)


def _needed(nodes: Sequence[onnx.NodeProto], outputs: Iterable[str]) -> list[onnx.NodeProto]:
    """The nodes among `nodes` that `outputs` depend on, in their order."""
    wanted = set(outputs)
    kept = []
    for node in reversed(nodes):
        if wanted.isdisjoint(node.output):
            continue
        kept.append(node)
        wanted |= _reads([node])
    return kept[::-1]


def _reads(nodes: Iterable[onnx.NodeProto]) -> set[str]:
    """Every name the nodes read, their subgraphs' reads of outer values included."""
    names: set[str] = set()
    for node in nodes:
        names.update(name for name in node.input if name)
        for attr in node.attribute:
            for body in [attr.g] if attr.HasField("g") else attr.graphs:
                local = {name for inner in body.node for name in inner.output}
                local |= {v.name for v in body.input} | {t.name for t in body.initializer}
                names |= _reads(body.node) - local
    return names


def _ordered(nodes: Sequence[onnx.NodeProto]) -> list[str]:
    """The names the nodes read, in first-read order (the sliced model's input order)."""
    seen: dict[str, None] = {}
    for node in nodes:
        for name in node.input:
            seen.setdefault(name, None)
    for name in _reads(nodes):
        seen.setdefault(name, None)
    return [name for name in seen if name]
