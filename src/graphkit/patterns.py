"""The pattern language of rewrite rules, and the matcher that finds a pattern in a graph.

    a, b, c = Var("a"), Var("b"), Var("c")
    pattern = P.Add(P.MatMul(a, b), c)           # Add(MatMul(a, b), c)
    match, why_not = match_pattern(pattern, node, opset)
    match[a], match.node(pattern)               # the values and nodes it bound

Pattern variables are Python objects (`Var`), bound by identity, never by parameter
name; a `Var` or a sub-pattern used twice must match the same value or node twice, so
patterns describe DAGs (LayerNorm's `x - mean` feeds both the variance and the divide).
Matching starts at a root node and walks use-def chains upward; inner nodes must be used
only inside the match, so the whole match can be replaced. A `Constraint` that declines
carries the message saying why. What replaces a match is `graphkit.rewrite`'s part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit.ir._constants import const_array

COMMUTATIVE = frozenset({"Add", "Mul", "Max", "Min", "Sum", "And", "Or", "Xor", "Equal"})


class Var:
    """A pattern variable: matches any value (only constants when `const=True`)."""

    def __init__(self, name: str, *, const: bool = False) -> None:
        self.name = name
        self.const = const

    def __repr__(self) -> str:
        return f"Var({self.name!r})"


@dataclass(frozen=True, eq=False)
class Scalar:
    """Matches a constant holding one number (any shape of size 1) close to `value`."""

    value: float
    rtol: float = 1e-3


@dataclass(frozen=True, eq=False)
class Op:
    """Matches a node of `op_type` whose inputs match `inputs`, attributes equal to `attrs`."""

    op_type: str
    inputs: tuple[Pattern, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    domain: str = ""


Pattern = Var | Scalar | Op


class _PatternBuilder:
    """`P.Add(x, y, alpha=1.0)` builds `Op("Add", (x, y), {"alpha": 1.0})`."""

    def __getattr__(self, op_type: str) -> Callable[..., Op]:
        def make(*inputs: Pattern | float, **attrs: Any) -> Op:
            wrapped = tuple(Scalar(float(i)) if isinstance(i, int | float) else i for i in inputs)
            return Op(op_type, wrapped, attrs)

        return make


P = _PatternBuilder()


@dataclass
class Match:
    """What a pattern matched: its root node, its variables' values, its nodes."""

    root: ir.Node
    bound: dict[Any, Any]  # Var -> ir.Value, Op -> ir.Node
    opset: int

    def __getitem__(self, var: Var) -> ir.Value:
        return self.bound[var]

    def const(self, var: Var) -> np.ndarray | None:
        return const_array(self.bound[var])

    def node(self, pattern: Op) -> ir.Node:
        return self.bound[pattern]

    def attr(self, pattern: Op, name: str, default: Any = None) -> Any:
        attr = self.bound[pattern].attributes.get(name)
        return default if attr is None else attr.value

    @property
    def nodes(self) -> list[ir.Node]:
        return [item for key, item in self.bound.items() if isinstance(key, Op)]


@dataclass(frozen=True)
class Constraint:
    """A named condition on a match; `message` says why the rule declined when it fails."""

    message: str
    holds: Callable[[Match], bool]


def match_pattern(pattern: Op, node: ir.Node, opset: int,
                  constraints: Sequence[Constraint] = ()) -> tuple[Match | None, str | None]:
    """The first way `pattern` matches with `node` as root whose constraints all hold, and
    None; or None and why the last way it fitted was declined (None: it never fitted)."""
    declined: str | None = None
    for bound in _match_node(pattern, node, {}):
        match = Match(node, bound, opset)
        if any(inner.graph is not node.graph for inner in match.nodes):
            declined = declined or "the pattern reaches out of a subgraph into the graph around it"
            continue
        if not _self_contained(match):
            declined = declined or "an intermediate result is used outside the pattern"
            continue
        failed = next((check for check in constraints if not check.holds(match)), None)
        if failed is None:
            return match, None
        declined = failed.message
    return None, declined


def _match_value(pattern: Pattern, value: ir.Value | None, bound: dict) -> Iterator[dict]:
    if isinstance(pattern, Var):
        yield from _match_var(pattern, value, bound)
        return
    if isinstance(pattern, Scalar):
        array = const_array(value)
        if array is not None and array.size == 1 and np.issubdtype(array.dtype, np.number) and \
                np.isclose(float(array.reshape(())), pattern.value, rtol=pattern.rtol, atol=0):
            yield bound
        return
    producer = value.producer() if value is not None else None
    if producer is None or producer.outputs[0] is not value:
        return
    yield from _match_node(pattern, producer, bound)


def _match_var(var: Var, value: ir.Value | None, bound: dict) -> Iterator[dict]:
    if var in bound:
        if bound[var] is value:
            yield bound
        return
    if value is None or (var.const and not _is_constant(value)):
        return
    yield {**bound, var: value}


def _is_constant(value: ir.Value) -> bool:
    """const_array(value) is not None, without turning the tensor into an array: the matcher
    asks this of every candidate, constraints read the array only for a whole match."""
    if value.is_graph_input():
        return False
    try:
        return ir.convenience.get_const_tensor(value) is not None
    except ValueError:  # a malformed Constant node, as const_array says
        return False


def _match_node(pattern: Op, node: ir.Node, bound: dict) -> Iterator[dict]:
    if pattern in bound:
        if bound[pattern] is node:
            yield bound
        return
    if node.op_type != pattern.op_type or _domain(node.domain) != _domain(pattern.domain):
        return
    if len(node.inputs) != len(pattern.inputs) or not _attrs_equal(node, pattern.attrs):
        return
    bound = {**bound, pattern: node}
    orders = [pattern.inputs]
    if pattern.op_type in COMMUTATIVE and len(pattern.inputs) == 2:
        orders.append(pattern.inputs[::-1])
    for order in orders:
        yield from _match_inputs(order, list(node.inputs), bound)


def _domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def _match_inputs(patterns: Sequence[Pattern], values: list, bound: dict) -> Iterator[dict]:
    if not patterns:
        yield bound
        return
    for partial in _match_value(patterns[0], values[0], bound):
        yield from _match_inputs(patterns[1:], values[1:], partial)


def _attrs_equal(node: ir.Node, attrs: Mapping[str, Any]) -> bool:
    for name, expected in attrs.items():
        attr = node.attributes.get(name)
        actual = None if attr is None else attr.value
        if isinstance(actual, Sequence) and not isinstance(actual, str):
            actual = list(actual)
        if actual != expected:
            return False
    return True


def _self_contained(match: Match) -> bool:
    """Inner nodes feed only nodes of the match, and no graph output, so all can go."""
    inside = {id(node) for node in match.nodes}
    for node in match.nodes:
        if node is match.root:
            continue
        for output in node.outputs:
            if output.is_graph_output():
                return False
            if any(id(user) not in inside for user, _ in output.uses()):
                return False
    return True
