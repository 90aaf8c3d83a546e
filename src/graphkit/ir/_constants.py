"""What a value holds when the graph cannot change it: the one `const_array` that passes,
the pattern matcher and the targets' predicates all ask."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir


def const_array(value: ir.Value | None) -> np.ndarray | None:
    """The value as an array when it is a constant: an initializer that is not also a graph
    input (an overridable default is not a constant), or the output of a Constant node in
    any of its attribute forms. None otherwise, and for a Constant node the spec does not
    allow (no attribute, two of them, a reference to a function attribute)."""
    if value is None or value.is_graph_input():
        return None
    try:
        tensor = ir.convenience.get_const_tensor(value)
    except ValueError:  # a malformed Constant node: not a value anyone can rely on
        return None
    return None if tensor is None else np.asarray(tensor.numpy())
