"""Which dims and outputs did tracing freeze? GK303 from both ends, without running anything.

A tracing exporter records what the example computed. A size read into Python (`int(x.shape
[1])`, `.item()`, `range(n)`) becomes a constant, so the graph declares a dim dynamic that it
cannot vary. graphkit looks for it from both ends:
- the node end: a Reshape, Expand or Tile whose target shape holds the size a dynamic dim
  was exported with (recorded in the model's metadata by graphkit's frontends); the graph
  runs only at that size, and pinning the dim is the fix;
- the output end: a graph output that depends on no input at all, a constant computed at
  export (an `arange(n)` or a mask built from a traced length). Legitimately constant
  outputs exist (a detector's anchors), so it is a warning, and no pass "fixes" it.
validation's run-time check (one size up from the chosen one fails) confirms the first kind.
"""

from __future__ import annotations

import onnx_ir as ir

from graphkit.findings import Finding, Severity
from graphkit.validation import _shape_constants, declared_inputs, recorded_example_shapes

SHAPE_OPS = frozenset({"Reshape", "Expand", "Tile"})


def frozen_shape_findings(model: ir.Model) -> list[Finding]:
    return [*_baked_sizes(model), *_constant_outputs(model)]


def _dynamic_dims(model: ir.Model) -> dict[int, str]:
    """Example size -> 'dim name (input x, axis a)' for each dynamic dim with a recorded
    example size above 1 that no static dim of the inputs also has (that would be ambiguous)."""
    recorded = recorded_example_shapes(model)
    static = {d for v in declared_inputs(model) for d in (v.shape or ()) if isinstance(d, int)}
    sizes: dict[int, str] = {}
    for value in declared_inputs(model):
        example = recorded.get(value.name)
        if value.shape is None or example is None or len(example) != len(value.shape):
            continue
        for axis, (dim, size) in enumerate(zip(value.shape, example)):
            if isinstance(dim, int) or size <= 1 or size in static:
                continue
            label = getattr(dim, "value", None) or f"{value.name}[{axis}]"
            sizes.setdefault(size, f"'{label}' (input '{value.name}', axis {axis})")
    return sizes


def _baked_sizes(model: ir.Model) -> list[Finding]:
    sizes = _dynamic_dims(model)
    if not sizes:
        return []
    findings = []
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        if node.op_type not in SHAPE_OPS or len(node.inputs) < 2:
            continue
        baked = [size for size in _shape_constants(node.inputs[1]) if size in sizes]
        if not baked:
            continue
        findings.append(Finding(
            "GK303", Severity.WARNING,
            f"the {node.op_type}'s target shape holds {baked[0]}, the size dim "
            f"{sizes[baked[0]]} was exported with: tracing baked it in, so the graph runs "
            "only at that size",
            node=node.name or node.op_type, op=node.op_type, fix="pin-shapes"))
    return findings


def _constant_outputs(model: ir.Model) -> list[Finding]:
    graph = model.graph
    inputs = [value for value in graph.inputs if value.name not in graph.initializers]
    if not inputs:
        return []
    varying: set[ir.Value] = set(inputs)
    for node in graph:
        if any(value in varying for value in _reads(node)):
            varying.update(value for value in node.outputs if value is not None)
    findings = []
    for output in graph.outputs:
        if output in varying:
            continue
        producer = output.producer()
        findings.append(Finding(
            "GK303", Severity.WARNING,
            f"output '{output.name}' depends on no input: it is a constant computed at export "
            "(a traced size or value frozen into the graph?); if it should follow the input, "
            "export it without reading that size into Python",
            node=(producer.name or producer.op_type) if producer else output.name,
            op=producer.op_type if producer else None,
            fix=""))  # no pass makes an output follow an input it lost
    return findings


def _reads(node: ir.Node) -> list[ir.Value]:
    """The node's inputs, and the values its subgraphs read (outer ones among them)."""
    values = [value for value in node.inputs if value is not None]
    for attr in node.attributes.values():
        graphs = ([attr.value] if attr.type == ir.AttributeType.GRAPH
                  else list(attr.value) if attr.type == ir.AttributeType.GRAPHS else [])
        for body in graphs:
            for inner in ir.traversal.RecursiveGraphIterator(body):
                values.extend(value for value in inner.inputs if value is not None)
    return values
