"""The shape every emitter's lowering table shares: op type -> its entries, each valid from
the opset in its `since`, gathered from one module per op family.

    table = merge_families((_elementwise, _tensor, ...))   # op -> entries, oldest first
    entry = entry_at(table, node, opset)                   # the one that handles the node
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType, ModuleType
from typing import Protocol, TypeVar

import onnx_ir as ir

ONNX_DOMAINS = frozenset({"", "ai.onnx"})


class _Versioned(Protocol):
    since: int


E = TypeVar("E", bound=_Versioned)


def merge_families(families: Iterable[ModuleType]) -> Mapping[str, tuple]:
    """Each family module's `entries()` in one read-only table; an op in two families is a
    bug in the table, not a choice to make at run time."""
    table: dict[str, tuple] = {}
    for family in families:
        for op, lowerings in family.entries().items():
            if op in table:
                raise RuntimeError(f"two lowering families define {op}")
            table[op] = tuple(sorted(lowerings, key=lambda entry: entry.since))
    return MappingProxyType(table)


def entry_at(table: Mapping[str, tuple[E, ...]], node: ir.Node, opset: int) -> E | None:
    """The entry that handles the node's op at this opset (the latest one not after it)."""
    if node.domain not in ONNX_DOMAINS:
        return None
    candidates = [e for e in table.get(node.op_type, ()) if e.since <= opset]
    return candidates[-1] if candidates else None
