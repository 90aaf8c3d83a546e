"""input x: [batch, seq, 256] -> input x: [1, 128, 256], then every shape the pins decide folds.

Pins are `x=1x3x224x224` (a whole input) or `batch=1` (a named dynamic dim, wherever it
appears). A pin fixes exactly the dims it names: `batch=1` leaves `seq` dynamic, and a
whole-input pin also fixes its named dims in the other inputs that share them (`batch`
is one dim, whichever input it is read from). `static=true` (set by fix when the target
needs static shapes) gives the dims the pins leave dynamic their recorded export sizes;
without any pin, the recorded export shapes are used. After pinning, shape inference,
fold-shapes and constant folding propagate the static dims through the graph, so that
Shape-fed subgraphs disappear where the graph allows.

The dims pinned by name are recorded in the model's metadata (PINNED_DIMS_KEY): once
pinned, `batch` no longer names a dim of any input, and a second run with the same pin
must find it done rather than unknown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import onnx_ir as ir

from graphkit.errors import InputError
from graphkit.passes._graph_edit import dim_symbol
from graphkit.passes.fold_shapes import FoldShapes
from graphkit.passmanager import Pass, PassContext, PassResult, Pipeline, Request, instantiate
from graphkit.validation import declared_inputs, record_example_shapes, recorded_example_shapes

Dim = int | ir.SymbolicDim
PINNED_DIMS_KEY = "graphkit.pinned_dims"  # JSON {dim name: size} of the named dims pinned


@dataclass(frozen=True)
class PinShapes(Pass):
    name = "pin-shapes"
    kind = "rewrite"
    fixes = ("GK301", "GK303", "GK304")
    pin: tuple[str, ...] = ()  # "x=1x3x224x224" or "batch=1"
    static: bool = False  # the dims the pins leave dynamic get their recorded export sizes

    @classmethod
    def for_target(cls, target: Any, model: ir.Model, options: Mapping[str, str],
                   request: Request) -> Pass:
        """The user's pins, exactly as given. pin-shapes{static=true} comes after they ran:
        it fills in what they left dynamic."""
        if request.pin and "static" not in options:
            options = {**options, "pin": "+".join(request.pin)}
        return instantiate(cls, options)

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        # Pin, then fold what the pins made static (fold-shapes repeats until stable): one
        # rewrite, proven as one. Nothing pinned anew: nothing to fold either.
        pin_then_fold = Pipeline((_PinInputs(self.pin, self.static), FoldShapes()),
                                 follow_up=True)
        return pin_then_fold.run(model, ctx)


@dataclass(frozen=True)
class _PinInputs(Pass):
    """The inputs take the shapes the pins give them; what was inferred under the old dims
    is forgotten. pin-shapes runs it before fold-shapes."""

    name = "pin-inputs"
    kind = "rewrite"
    pin: tuple[str, ...]
    static: bool

    def run(self, model: ir.Model, ctx: PassContext) -> PassResult:
        plans = {name: plan for name, plan in _plan(model, self.pin, self.static).items()
                 if _is_new(model, name, plan.dims)}
        if not plans:
            return PassResult()
        changes = []
        named = pinned_dims(model)
        for value in declared_inputs(model):
            if value.name in plans:
                plan = plans[value.name]
                named.update(_named_dims(value.shape, plan.dims))
                value.shape = ir.Shape(plan.dims)
                changes.append(f"input '{value.name}' pinned to {_text(plan.dims)}{plan.note()}")
        if named:
            model.metadata_props[PINNED_DIMS_KEY] = json.dumps(named, sort_keys=True)
        _forget_inferred_shapes(model.graph)
        _update_recorded_shapes(model, {name: plan.dims for name, plan in plans.items()})
        return PassResult(modified=True, changes=changes)


def pinned_shapes(model: ir.Model, pins: tuple[str, ...], *, static: bool = False
                  ) -> dict[str, tuple[Dim, ...]]:
    """Input name -> the shape the pins give it: each pinned dim an int, the others as
    declared (or their recorded export size, with `static` or without any pin).

    Raises InputError for a pin that names nothing, disagrees with the model or another
    pin, or gives a size below 1; so fix checks the pins before any work."""
    return {name: plan.dims for name, plan in _plan(model, pins, static).items()}


def check_pins_fit(pinned: Mapping[str, tuple[Dim, ...]],
                   given: Mapping[str, tuple[int, ...]]) -> None:
    """Refuse pins that contradict the shapes of inputs the user gave (fix's `inputs`):
    the pinned model could not run on them, so the pin would only be rolled back."""
    for name, dims in pinned.items():
        shape = given.get(name)
        if shape is None:
            continue
        if len(shape) != len(dims) or any(
                isinstance(d, int) and d != s for d, s in zip(dims, shape)):
            raise InputError(f"the pins give input '{name}' shape {_text(dims)}, but the given "
                             f"inputs have it {_text(tuple(shape))}")


@dataclass
class _InputPlan:
    dims: tuple[Dim, ...]
    recorded: list[str] = field(default_factory=list)  # "batch=2": dims from the export sizes

    def note(self) -> str:
        if not self.recorded:
            return ""
        return f" ({', '.join(self.recorded)}: the recorded export size)"


def _plan(model: ir.Model, pins: tuple[str, ...], static: bool) -> dict[str, _InputPlan]:
    inputs = {value.name: value for value in declared_inputs(model)}
    by_input, by_dim = _parse_pins(pins, inputs)
    _check_dims_used(by_dim, inputs, pinned_dims(model))
    by_dim = _bind_input_dims(by_input, by_dim, inputs)
    fill = recorded_example_shapes(model) if static or not pins else {}
    plans = {}
    for name, value in inputs.items():
        if name in by_input:
            plans[name] = _InputPlan(by_input[name])
        elif value.shape is None:
            if name in fill:
                plans[name] = _InputPlan(fill[name], [f"{name}={_text(fill[name])}"])
        else:
            plans[name] = _dims_for(value, by_dim, fill.get(name))
    return plans


def _dims_for(value: ir.Value, by_dim: Mapping[str, int],
              recorded: tuple[int, ...] | None) -> _InputPlan:
    """The input's dims with the named ones pinned and, where `recorded` fits, the rest filled."""
    declared = list(value.shape or ())
    if recorded is not None and not _fits(declared, recorded):
        recorded = None  # recorded for another version of this input: not a size to trust
    plan = _InputPlan(())
    dims: list[Dim] = []
    for axis, dim in enumerate(declared):
        symbol = dim_symbol(dim)
        if isinstance(dim, int):
            dims.append(dim)
        elif symbol in by_dim:
            dims.append(by_dim[symbol])
        elif recorded is not None:
            dims.append(recorded[axis])
            plan.recorded.append(f"{symbol or f'{value.name}[{axis}]'}={recorded[axis]}")
        else:
            dims.append(dim)
    plan.dims = tuple(dims)
    return plan


def _fits(declared: list[Dim], recorded: tuple[int, ...]) -> bool:
    return len(declared) == len(recorded) and all(
        not isinstance(d, int) or d == r for d, r in zip(declared, recorded))


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
        if any(dim < 1 for dim in dims):
            raise InputError(f"pin '{pin}': every size must be at least 1")
        if key in inputs:
            by_input[key] = _checked(inputs[key], dims)
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


def _bind_input_dims(by_input: Mapping[str, tuple[int, ...]], by_dim: Mapping[str, int],
                     inputs: Mapping[str, ir.Value]) -> dict[str, int]:
    """The dim pins plus the named dims each whole-input pin fixes; they must agree."""
    bound = dict(by_dim)
    for name, dims in by_input.items():
        for axis, dim in enumerate(inputs[name].shape or ()):
            symbol = dim_symbol(dim)
            if symbol is None:
                continue
            if bound.setdefault(symbol, dims[axis]) != dims[axis]:
                raise InputError(f"pin for input '{name}': axis {axis} is dim '{symbol}', "
                                 f"pinned to {bound[symbol]} elsewhere, not {dims[axis]}")
    return bound


def pinned_dims(model: ir.Model) -> dict[str, int]:
    """Dim name -> size, for the named dims an earlier run pinned (PINNED_DIMS_KEY)."""
    try:
        recorded = json.loads(model.metadata_props.get(PINNED_DIMS_KEY) or "{}")
    except ValueError:
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {str(k): v for k, v in recorded.items() if isinstance(v, int)}


def _named_dims(shape: ir.Shape | None, dims: tuple[Dim, ...]) -> dict[str, int]:
    """The named dims of `shape` that `dims` pins, and their sizes."""
    if shape is None or len(shape) != len(dims):
        return {}
    return {dim_symbol(old): new for old, new in zip(shape, dims)
            if dim_symbol(old) and isinstance(new, int)}


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


def _is_new(model: ir.Model, name: str, dims: tuple[Dim, ...]) -> bool:
    value = next(v for v in declared_inputs(model) if v.name == name)
    return value.shape is None or list(value.shape) != list(dims)


def _update_recorded_shapes(model: ir.Model, pinned: Mapping[str, tuple[Dim, ...]]) -> None:
    """Recorded export shapes, where present, take the pinned sizes: validation feeds them."""
    recorded = recorded_example_shapes(model)
    if not recorded:
        return
    for name, dims in pinned.items():
        old = recorded.get(name)
        if all(isinstance(d, int) for d in dims):
            recorded[name] = tuple(int(d) for d in dims)
        elif old is not None and len(old) == len(dims):
            recorded[name] = tuple(d if isinstance(d, int) else o for d, o in zip(dims, old))
    record_example_shapes(model, recorded)


def _forget_inferred_shapes(graph: ir.Graph) -> None:
    """Drop shapes inferred under the old dims: inference fills them in again, static now."""
    for node in graph:
        for value in node.outputs:
            if value.shape is not None and not all(isinstance(d, int) for d in value.shape):
                value.shape = None


def _text(dims: tuple[Dim, ...]) -> str:
    return "x".join(str(d) if isinstance(d, int) else (dim_symbol(d) or "?") for d in dims)
