"""The TorchScript lowering table: ONNX op -> the torch code it becomes.

The table is built in one place (`lowering_table`) from one module per op family. It is
the single source of truth: the emitter lowers exactly the nodes that
`unsupported_reason` accepts, and the torchscript target reports what it rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import onnx_ir as ir

from graphkit.backends._lowering_table import ONNX_DOMAINS, entry_at, merge_families
from graphkit.backends.torchscript.lowering import (
    _composite,
    _control,
    _elementwise,
    _nn,
    _recurrent,
    _reduce,
    _sampling,
    _shape,
    _tensor,
)
from graphkit.backends.torchscript.lowering._base import UNLOWERED_DTYPES, Lowering, value_dtypes


@cache
def lowering_table() -> Mapping[str, tuple[Lowering, ...]]:
    """op type -> its entries, ordered by the opset each starts at."""
    return merge_families((
        _elementwise, _shape, _tensor, _reduce, _nn, _recurrent, _sampling, _composite,
        _control,
    ))


def entry_for(node: ir.Node, opset: int) -> Lowering | None:
    """The entry that handles the node's op at this opset (the latest one not after it)."""
    return entry_at(lowering_table(), node, opset)


def unsupported_reason(node: ir.Node, opset: int) -> str | None:
    """None when the TorchScript emitter lowers the node as written; else one sentence why not."""
    if node.domain not in ONNX_DOMAINS:
        return f"the TorchScript lowering has no ops from domain '{node.domain}'"
    entries = lowering_table().get(node.op_type)
    if not entries:
        return f"the TorchScript lowering has no entry for ONNX op {node.op_type}"
    entry = entry_for(node, opset)
    if entry is None:
        return (
            f"{node.op_type} is lowered from opset {entries[0].since} on; "
            f"this model uses opset {opset}"
        )
    for dtype in value_dtypes(node):
        if dtype in UNLOWERED_DTYPES:
            return f"torch has no {dtype.name.lower()} tensors that {node.op_type} could run on"
        if dtype not in entry.dtypes:
            return f"{node.op_type} is not lowered for {dtype.name.lower()} tensors"
    return entry.check(node, opset) if entry.check is not None else None


__all__ = ["Lowering", "entry_for", "lowering_table", "unsupported_reason"]
