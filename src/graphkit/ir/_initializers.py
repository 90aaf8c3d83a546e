"""Initializers that are also graph inputs, and the IR version that lets them stand apart.

Before IR version 4, ONNX required every initializer to be listed among the graph inputs
too (the classic model-zoo files list all their weights). The spec reads such an input as
overridable with a default: a caller may feed it, else the initializer is used. From IR 4
on, an initializer need not be an input, and an IR-3 model reads the same as IR 4.
"""

from __future__ import annotations

import onnx_ir as ir

# The first IR version in which an initializer need not be listed as a graph input.
IR_VERSION_INITIALIZERS_APART = 4


def overridable_initializers(graph: ir.Graph) -> list[ir.Value]:
    """Graph inputs that have an initializer: a caller may feed them, else it is the default."""
    return [value for value in graph.inputs if value.name in graph.initializers]


def allow_initializers_apart(model: ir.Model) -> bool:
    """Raise an IR version below 4 to 4 when some initializer is not a graph input (IR < 4
    forbids that, and the checker rejects it). True when it changed the version."""
    if model.ir_version >= IR_VERSION_INITIALIZERS_APART:
        return False
    graph = model.graph
    listed = {value.name for value in graph.inputs}
    if all(name in listed for name in graph.initializers):
        return False
    model.ir_version = IR_VERSION_INITIALIZERS_APART
    return True
