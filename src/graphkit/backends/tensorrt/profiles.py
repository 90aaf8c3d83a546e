"""Optimization profiles: the min/opt/max shape TensorRT builds each input for.

A TensorRT engine takes an input with dynamic dims only inside a profile: the smallest
shape it accepts (min), the one its tactics are timed on (opt) and the largest (max).
`--shapes` gives them per input, as trtexec's --minShapes/--optShapes/--maxShapes do:

    --shapes input=1x3x224x224:8x3x224x224:32x3x224x224      # min:opt:max
    --shapes input=8x3x224x224                                # one shape: min = opt = max

An input with static dims needs no profile entry (its one shape is all three); a dynamic
input the user gives no shapes for gets the shape the validation inputs use for all three,
marked `"source": "validation inputs"` so that nobody mistakes it for a chosen range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import onnx_ir as ir

from graphkit.errors import InputError

FROM_SHAPES = "--shapes"
STATIC = "static"
FROM_VALIDATION = "validation inputs"
MAX_DIM = 2**31 - 1  # TensorRT dims are int32 (Dims.d is int64 but sizes past int32 refuse)


@dataclass(frozen=True)
class InputProfile:
    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]
    source: str  # FROM_SHAPES, STATIC or FROM_VALIDATION

    def to_json(self) -> dict[str, Any]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max),
                "source": self.source}


def dynamic_inputs(model: ir.Model) -> dict[str, list[str]]:
    """Input name -> its dynamic dims (by name, or `dim N` when unnamed), for every graph
    input that has any: the inputs an engine needs a profile for."""
    found: dict[str, list[str]] = {}
    for value in model.graph.inputs:
        if value.shape is None:
            found[value.name] = ["rank unknown"]
            continue
        dims = [_dim_label(dim, index) for index, dim in enumerate(value.shape)
                if not isinstance(dim, int)]
        if dims:
            found[value.name] = dims
    return found


def _dim_label(dim: Any, index: int) -> str:
    value = getattr(dim, "value", None)
    return value if isinstance(value, str) and value else f"dim {index}"


def parse_shapes(specs: Sequence[str] | str, model: ir.Model) -> dict[str, InputProfile]:
    """`name=MIN:OPT:MAX` (or `name=SHAPE`) strings -> profiles, checked against the model's
    inputs: a known name, the input's rank, its static dims kept, min <= opt <= max."""
    if isinstance(specs, str):
        specs = (specs,)
    inputs = {value.name: value for value in model.graph.inputs}
    profiles: dict[str, InputProfile] = {}
    for spec in specs:
        name, shapes = _split(spec)
        if name not in inputs:
            known = ", ".join(inputs) or "none"
            raise InputError(f"--shapes {spec}: the model has no input '{name}' (inputs: {known})")
        if name in profiles:
            raise InputError(f"--shapes {spec}: input '{name}' is given twice")
        low, opt, high = shapes
        _check_fits(spec, inputs[name], shapes)
        profiles[name] = InputProfile(name, low, opt, high, FROM_SHAPES)
    return profiles


def _split(spec: str) -> tuple[str, tuple[tuple[int, ...], ...]]:
    name, sep, text = spec.partition("=")
    if not sep or not name or not text:
        raise InputError(f"--shapes {spec}: write NAME=MIN:OPT:MAX (e.g. x=1x3x224x224:"
                         "8x3x224x224:32x3x224x224) or NAME=SHAPE")
    parts = text.split(":")
    if len(parts) not in (1, 3):
        raise InputError(f"--shapes {spec}: give one shape or three (MIN:OPT:MAX), "
                         f"not {len(parts)}")
    shapes = tuple(_shape(spec, part) for part in parts)
    return name, shapes * 3 if len(shapes) == 1 else shapes


def _shape(spec: str, text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.split("x"))
    except ValueError:
        raise InputError(f"--shapes {spec}: '{text}' is not a shape like 1x3x224x224") from None
    if any(dim < 0 or dim > MAX_DIM for dim in dims):
        raise InputError(f"--shapes {spec}: dims must be between 0 and {MAX_DIM}")
    return dims


def _check_fits(spec: str, value: ir.Value, shapes: tuple[tuple[int, ...], ...]) -> None:
    low, opt, high = shapes
    if len({len(shape) for shape in shapes}) != 1:
        raise InputError(f"--shapes {spec}: MIN, OPT and MAX must have the same rank")
    if value.shape is not None and len(value.shape) != len(low):
        raise InputError(f"--shapes {spec}: input '{value.name}' has rank {len(value.shape)}, "
                         f"the shapes have rank {len(low)}")
    if not all(a <= b <= c for a, b, c in zip(low, opt, high)):
        raise InputError(f"--shapes {spec}: each dim needs MIN <= OPT <= MAX")
    for index, dim in enumerate(value.shape or ()):
        if isinstance(dim, int) and {low[index], opt[index], high[index]} != {dim}:
            raise InputError(f"--shapes {spec}: dim {index} of '{value.name}' is fixed at {dim}")


def complete_profile(model: ir.Model, given: Mapping[str, InputProfile],
                     validation_shapes: Mapping[str, tuple[int, ...]]) -> list[InputProfile]:
    """One entry per graph input, in order: the user's, the static shape, or (a dynamic
    input left out) the shape the validation inputs use."""
    profile = []
    for value in model.graph.inputs:
        if value.name in given:
            profile.append(given[value.name])
            continue
        dims = tuple(value.shape) if value.shape is not None else None
        if dims is not None and all(isinstance(dim, int) for dim in dims):
            profile.append(InputProfile(value.name, dims, dims, dims, STATIC))
            continue
        shape = validation_shapes.get(value.name)
        if shape is None:
            raise InputError(f"input '{value.name}' has dynamic dims and no shape to build "
                             f"for: give --shapes {value.name}=MIN:OPT:MAX")
        shape = tuple(int(dim) for dim in shape)
        profile.append(InputProfile(value.name, shape, shape, shape, FROM_VALIDATION))
    return profile


def profile_json(profile: Sequence[InputProfile], version: str) -> dict[str, Any]:
    """The profile file written beside the engine (one optimization profile)."""
    return {"tensorrt": version, "profiles": [{p.name: p.to_json() for p in profile}]}


def trtexec_shapes(profile: Sequence[InputProfile]) -> dict[str, str]:
    """--minShapes/--optShapes/--maxShapes values (`name:1x3x224x224,...`); static inputs
    are left out, as trtexec wants only the inputs with dynamic dims."""
    dynamic = [p for p in profile if p.source != STATIC]

    def joined(pick) -> str:
        return ",".join(f"{p.name}:{'x'.join(map(str, pick(p)))}" for p in dynamic)

    if not dynamic:
        return {}
    return {"minShapes": joined(lambda p: p.min), "optShapes": joined(lambda p: p.opt),
            "maxShapes": joined(lambda p: p.max)}
