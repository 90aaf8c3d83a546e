"""input x: [batch, seq, 256] -> input x: [1, 128, 256], then every shape the pins decide folds.

Pins are `x=1x3x224x224` (a whole input) or `batch=1` (a named dynamic dim, wherever it
appears). Without pins the example shapes recorded at export are used. After pinning,
shape inference, fold-shapes and constant folding propagate the static dims through the
graph, so that Shape-fed subgraphs disappear where the graph allows.

The dims pinned by name are recorded in the model's metadata (PINNED_DIMS_KEY): once
pinned, `batch` no longer names a dim of any input, and a second run with the same pin
must find it done rather than unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.passes._graph_edit import dim_symbol
from graphkit.passes.fold_shapes import FoldShapes
from graphkit.passmanager import Pass, PassContext, PassResult
from graphkit.validation import declared_inputs, record_example_shapes, recorded_example_shapes

PINNED_DIMS_KEY = "graphkit.pinned_dims"  # JSON {dim name: size} of the named dims pinned


@dataclass(frozen=True)
class PinShapes(Pass):
    name = "pin-shapes"
    kind = "rewrite"
    fixes = ("GK301", "GK303", "GK304")
    pin: tuple[str, ...] = ()  # "x=1x3x224x224" or "batch=1"

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        shapes = pinned_shapes(model, self.pin)
        changed = {name: dims for name, dims in shapes.items() if _is_new(model, name, dims)}
        if not changed:
            return PassResult()
        changes = []
        named = pinned_dims(model)
        for value in declared_inputs(model):
            if value.name in changed:
                named.update(_named_dims(value.shape, changed[value.name]))
                value.shape = ir.Shape(changed[value.name])
                changes.append(f"input '{value.name}' pinned to {_text(changed[value.name])}")
        if named:
            model.metadata_props[PINNED_DIMS_KEY] = json.dumps(named, sort_keys=True)
        _forget_inferred_shapes(model.graph)
        if recorded_example_shapes(model):
            record_example_shapes(model, {**recorded_example_shapes(model), **changed})
        changes += FoldShapes().run(model, ctx).changes
        return PassResult(modified=True, changes=changes)


def pinned_shapes(model: ir.Model, pins: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """Input name -> static shape the pins (or the recorded example shapes) give it."""
    inputs = {value.name: value for value in declared_inputs(model)}
    by_input, by_dim = _parse_pins(pins, inputs)
    shapes = {} if pins else dict(recorded_example_shapes(model))
    for name, value in inputs.items():
        if name in by_input:
            shapes[name] = _checked(value, by_input[name])
            continue
        if value.shape is None or not by_dim:
            continue
        dims = [by_dim.get(dim_symbol(dim), dim) if not isinstance(dim, int) else dim
                for dim in value.shape]
        if all(isinstance(dim, int) for dim in dims):
            shapes[name] = tuple(dims)
    _check_dims_used(by_dim, inputs, pinned_dims(model))
    return shapes


def pinned_dims(model: ir.Model) -> dict[str, int]:
    """Dim name -> size, for the named dims an earlier run pinned (PINNED_DIMS_KEY)."""
    try:
        recorded = json.loads(model.metadata_props.get(PINNED_DIMS_KEY) or "{}")
    except ValueError:
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {str(k): v for k, v in recorded.items() if isinstance(v, int)}


def _named_dims(shape: ir.Shape | None, dims: tuple[int, ...]) -> dict[str, int]:
    """The named dims of `shape` and the sizes `dims` gives them."""
    if shape is None or len(shape) != len(dims):
        return {}
    return {dim_symbol(old): new for old, new in zip(shape, dims) if dim_symbol(old)}


def _parse_pins(pins: tuple[str, ...], inputs: dict[str, ir.Value]):
    by_input: dict[str, tuple[int, ...]] = {}
    by_dim: dict[str, int] = {}
    for pin in pins:
        key, sep, text = pin.partition("=")
        key = key.strip()
        if not sep or not key or not text:
            raise InputError(f"pin '{pin}': expected NAME=1x3x224x224 or DIM=1")
        try:
            dims = tuple(int(part) for part in text.lower().split("x"))
        except ValueError:
            raise InputError(f"pin '{pin}': dims must be whole numbers joined by 'x'") from None
        if any(dim < 0 for dim in dims):
            raise InputError(f"pin '{pin}': dims cannot be negative")
        if key in inputs:
            by_input[key] = dims
        elif len(dims) == 1:
            by_dim[key] = dims[0]
        else:
            raise InputError(f"pin '{pin}': the model has no input named '{key}'")
    return by_input, by_dim


def _checked(value: ir.Value, dims: tuple[int, ...]) -> tuple[int, ...]:
    declared = list(value.shape) if value.shape is not None else None
    if declared is None:
        return dims
    if len(declared) != len(dims):
        raise InputError(f"pin for input '{value.name}': {len(dims)} dims given, "
                         f"the input has rank {len(declared)}")
    for axis, (old, new) in enumerate(zip(declared, dims)):
        if isinstance(old, int) and old != new:
            raise InputError(f"pin for input '{value.name}': axis {axis} is fixed at {old}, "
                             f"cannot pin it to {new}")
    return dims


def _check_dims_used(by_dim: dict[str, int], inputs: dict[str, ir.Value],
                     done: dict[str, int]) -> None:
    known = {dim_symbol(d) for v in inputs.values() for d in (v.shape or ()) if dim_symbol(d)}
    for name in sorted(set(by_dim) - known):
        if name in done and done[name] != by_dim[name]:
            raise InputError(f"pin '{name}={by_dim[name]}': dim '{name}' is pinned to "
                             f"{done[name]} already")
    unknown = sorted(set(by_dim) - known - set(done))
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise InputError(f"pin '{unknown[0]}': no input or dynamic dim has that name "
                         f"(inputs: {', '.join(inputs)}; dims: {names})")


def _is_new(model: ir.Model, name: str, dims: tuple[int, ...]) -> bool:
    value = next(v for v in declared_inputs(model) if v.name == name)
    return value.shape is None or list(value.shape) != list(dims)


def _forget_inferred_shapes(graph: ir.Graph) -> None:
    """Drop shapes inferred under the old dims: inference fills them in again, static now."""
    for node in graph:
        for value in node.outputs:
            if value.shape is not None and not all(isinstance(d, int) for d in value.shape):
                value.shape = None


def _text(dims: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in dims)
