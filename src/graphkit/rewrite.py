"""Rewrite rules and the driver that applies them: pattern -> replacement, until none matches.

    a, b, c = Var("a"), Var("b"), Var("c")
    Rule("matmul-add", P.Add(P.MatMul(a, b), c), lambda m, op: op.Gemm(m[a], m[b], m[c]))

The pattern language and the matcher (`Var`, `Op`, `P`, `Constraint`, `Match`) are
`graphkit.patterns`, re-exported here so that a rule file imports one module. A `Rule`'s
replacement is written with a `Builder` (`op.Gemm(...)` returns the new node's output),
which names new values so that they clash with nothing in the model; `rewrite` sweeps a
graph, one index of nodes by op type per sweep, and replaces each match whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit.ir._constants import const_array
from graphkit.ir._walk import every_graph
from graphkit.patterns import (
    COMMUTATIVE,
    Constraint,
    Match,
    Op,
    P,
    Pattern,
    Scalar,
    Var,
    match_pattern,
)

__all__ = [
    "COMMUTATIVE", "Builder", "Constraint", "Decline", "Match", "Op", "P", "Pattern",
    "Replacement", "RewriteLog", "Rule", "Scalar", "Var", "const_array", "constant_value",
    "find_match", "names_in", "names_in_model", "replace_nodes", "rewrite", "static_shape",
]


def constant_value(array: np.ndarray, name: str) -> ir.Value:
    """A value holding `array`, typed and shaped, for registering as an initializer.

    ir.Tensor rather than ir.tensor: for an array they build the same tensor, but ir.tensor's
    runtime protocol checks cost ~70 us a call (0.05 s of fold-shapes on the benchmark)."""
    array = np.asarray(array)
    value = ir.Value(name=name, const_value=ir.Tensor(array, name=name))
    value.shape = ir.Shape(array.shape)
    value.dtype = ir.DataType.from_numpy(array.dtype)
    return value


class Decline(Exception):
    """A replacement that cannot be built for this node; the message says why (shown to users)."""


class Builder:
    """Creates the replacement's nodes: `op.Gemm(a, b, c, transB=1)` returns its output value."""

    def __init__(self, graph: ir.Graph, opset: int, prefix: str,
                 taken: set[str] | None = None, constant_nodes: bool = False) -> None:
        self.graph = graph
        self.opset = opset
        self.prefix = prefix
        self.constant_nodes = constant_nodes  # a function body: constants as Constant nodes
        self.nodes: list[ir.Node] = []
        self.initializers: list[ir.Value] = []
        self.taken = taken if taken is not None else names_in(graph)

    def op(self, op_type: str, *inputs: ir.Value | None, _outputs: int = 1, _domain: str = "",
           **attrs: Any) -> Any:
        attrs = {key: value for key, value in attrs.items() if value is not None}
        node = ir.node(op_type, list(inputs), attrs, domain=_domain, num_outputs=_outputs,
                       name=self._name(op_type))
        for index, output in enumerate(node.outputs):
            output.name = self._name(f"{op_type}_out{index}")
        self.nodes.append(node)
        return node.outputs[0] if _outputs == 1 else tuple(node.outputs)

    def const(self, array: Any, dtype: Any = None) -> ir.Value:
        """A new initializer holding `array` (cast to `dtype` when given)."""
        array = np.asarray(array, dtype=dtype)
        if self.constant_nodes:  # a function has no initializers
            value = self.op("Constant", value=ir.Tensor(array, name=self._name("const")))
            value.const_value = value.producer().attributes["value"].value
            value.shape, value.dtype = ir.Shape(array.shape), ir.DataType.from_numpy(array.dtype)
            return value
        value = constant_value(array, self._name("const"))
        self.initializers.append(value)  # registered when the replacement is committed
        return value

    def reduce(self, op_type: str, x: ir.Value, axes: Sequence[int], keepdims: int = 1) -> ir.Value:
        """A Reduce* node in the form this opset wants (axes moved from attribute to input)."""
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            axes_input = self.const(np.array(list(axes), np.int64))
            return self.op(op_type, x, axes_input, keepdims=keepdims)
        return self.op(op_type, x, axes=list(axes), keepdims=keepdims)

    def _name(self, what: str) -> str:
        """A name no value, initializer or node of the graph has yet."""
        base = f"{self.prefix}/{what}"
        name, suffix = base, 0
        while name in self.taken:
            suffix += 1
            name = f"{base}_{suffix}"
        self.taken.add(name)
        return name

    def __getattr__(self, op_type: str) -> Callable[..., Any]:
        if not op_type[:1].isupper():
            raise AttributeError(op_type)
        return lambda *inputs, **attrs: self.op(op_type, *inputs, **attrs)


def names_in(graph: ir.Graph) -> set[str]:
    names = set(graph.initializers) | {v.name for v in graph.inputs if v.name}
    for node in graph:
        names.add(node.name or "")
        names.update(out.name for out in node.outputs if out.name)
    return names


def names_in_model(model: ir.Model) -> set[str]:
    """Every name of every graph: a subgraph's new value must not reuse an outer scope's."""
    return set().union(*(names_in(scope.graph) for scope in every_graph(model)))


Replacement = Callable[[Match, Builder], "ir.Value | Sequence[ir.Value] | None"]


@dataclass(frozen=True)
class Rule:
    """pattern -> replacement, where every constraint holds and the opset is at least `min_opset`.

    `build` returns the values that replace the root's outputs, or None to decline
    (for reasons only the build step can see; it then should have been a Constraint).
    """

    name: str
    pattern: Op
    build: Replacement
    constraints: tuple[Constraint, ...] = ()
    min_opset: int = 1  # the lowest opset where the replacement's ops exist as used


@dataclass
class RewriteLog:
    rewrites: int = 0  # matches replaced
    changes: list[str] = field(default_factory=list)
    declines: list[str] = field(default_factory=list)  # "rule at node: why"


def rewrite(graph: ir.Graph, rules: Sequence[Rule], opset: int, max_rounds: int = 8,
            taken: set[str] | None = None, in_function: bool = False) -> RewriteLog:
    """Apply `rules` until none matches (at most `max_rounds` sweeps over the graph).
    `taken`: the names new values must avoid (default: the graph's own); `in_function`: the
    graph is a function body, where new constants are Constant nodes."""
    log = RewriteLog()
    active = [rule for rule in rules if opset >= rule.min_opset]
    taken = names_in(graph) if taken is None else taken
    for _ in range(max_rounds):
        if not _sweep(graph, active, opset, log, taken, in_function):
            break
    log.declines = list(dict.fromkeys(log.declines))
    return log


def _sweep(graph: ir.Graph, rules: Sequence[Rule], opset: int, log: RewriteLog,
           taken: set[str], in_function: bool) -> bool:
    by_op: dict[str, list[ir.Node]] = defaultdict(list)
    for node in graph:
        by_op[node.op_type].append(node)
    removed: set[int] = set()
    changed = False
    for rule in rules:
        wanted = {p.op_type for p in rule.pattern.inputs if isinstance(p, Op)}
        for node in by_op.get(rule.pattern.op_type, ()):
            if id(node) in removed or node.graph is not graph:
                continue
            if wanted and not wanted <= _producer_ops(node):
                continue  # cheap: most nodes of the root's type are not fed as the rule needs
            match = find_match(rule, node, opset, log)
            if match is None or not _apply(graph, rule, match, taken, in_function):
                continue
            removed.update(id(n) for n in match.nodes)
            log.rewrites += 1
            log.changes.append(f"{rule.name}: rewrote {node.op_type} '{node.name}'")
            changed = True
    return changed


def _producer_ops(node: ir.Node) -> set[str]:
    return {producer.op_type for value in node.inputs
            if value is not None and (producer := value.producer()) is not None}


def find_match(rule: Rule, node: ir.Node, opset: int,
               log: RewriteLog | None = None) -> Match | None:
    """The first way `rule.pattern` matches with `node` as root, whose constraints all hold;
    where it fitted but was declined, `log` gets why."""
    match, declined = match_pattern(rule.pattern, node, opset, rule.constraints)
    if declined and log is not None:
        log.declines.append(f"{rule.name} at '{node.name}': {declined}")
    return match


def _apply(graph: ir.Graph, rule: Rule, match: Match, taken: set[str], in_function: bool) -> bool:
    root = match.root.name or match.root.outputs[0].name
    builder = Builder(graph, match.opset, f"{rule.name}/{root}", taken, in_function)
    result = rule.build(match, builder)
    if result is None:
        return False
    replace_nodes(graph, match.root, match.nodes, builder, result)
    return True


def replace_nodes(graph: ir.Graph, root: ir.Node, nodes: Sequence[ir.Node], builder: Builder,
                  result: ir.Value | Sequence[ir.Value]) -> None:
    """Put `builder`'s nodes before `root`, route root's outputs to `result`, drop `nodes`."""
    new_values = [result] if isinstance(result, ir.Value) else list(result)
    for value in builder.initializers:
        graph.register_initializer(value)
    if builder.nodes:
        graph.insert_before(root, builder.nodes)
    for old, new in zip(root.outputs, new_values):
        _route_output(graph, old, new, builder)
    graph.remove(nodes, safe=True)


def static_shape(value: ir.Value) -> tuple[int, ...] | None:
    """The value's shape when every dim is a known int, else None."""
    shape = value.shape
    if shape is None or not all(isinstance(dim, int) for dim in shape):
        return None
    return tuple(shape)


def _route_output(graph: ir.Graph, old: ir.Value, new: ir.Value, builder: Builder) -> None:
    """Point every use of `old` at `new`; `new` takes over old's name, shape and type.

    Unlike passes._graph_edit.replace_value this never declines: a graph output that an
    existing value cannot take over is routed through a new Identity."""
    if new.shape is None:
        new.shape = old.shape
    if new.type is None:
        new.type = old.type
    if old.is_graph_output() and (new.is_graph_input() or new.is_graph_output()
                                  or new.producer() is None
                                  or new.producer() not in builder.nodes):
        # An existing value cannot take the output's name: route it through an Identity.
        new = builder.op("Identity", new)
        new.shape, new.type = old.shape, old.type
        graph.insert_before(old.producer(), builder.nodes[-1])
    name = old.name
    ir.convenience.replace_all_uses_with(old, new, replace_graph_outputs=True)
    if new.producer() is not None and new.producer() in builder.nodes:
        old.name = f"{name}__replaced"
        new.name = name
