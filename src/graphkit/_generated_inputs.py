"""Inputs to run a model on: generated from the declared dtypes and given shapes with a
fixed seed, in values the nodes that read them accept (graphkit._input_rules), or read
from the user's .npz. Shapes are refused before anything is allocated."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import onnx_ir as ir

from graphkit._input_rules import input_rules
from graphkit._input_values import Rule
from graphkit.errors import InputError, first_line
from graphkit.runner import Feeds

# Generated inputs are drawn as float64 first: 2**26 elements is 512 MiB at the peak.
MAX_GENERATED_ELEMENTS = 1 << 26


def declared_inputs(model: ir.Model) -> list[ir.Value]:
    """Graph inputs that are not initializers (the ones a caller must feed)."""
    return [value for value in model.graph.inputs if value.name not in model.graph.initializers]


def make_inputs(model: ir.Model, shapes: Mapping[str, tuple[int, ...]], seed: int = 0,
                domains: Mapping[str, np.dtype] | None = None) -> Feeds:
    """Deterministic random inputs of the declared dtypes and the given shapes, with values
    the nodes that read them accept (an index stays below the size it indexes).

    `domains`: inputs whose values must come from another dtype, still delivered in the
    declared one (a float image input that a rewrite narrows to uint8 gets whole numbers)."""
    for value in declared_inputs(model):  # before anything is allocated
        _check_generated_shape(value.name, shapes[value.name])
    rng = np.random.default_rng(seed)
    rules = input_rules(model, shapes)
    feeds: Feeds = {}
    for value in declared_inputs(model):
        dtype = _numpy_dtype(value)
        shape = shapes[value.name]
        if domains and value.name in domains:
            drawn = _random_array(rng, np.dtype(domains[value.name]), shape)
            feeds[value.name] = drawn.astype(dtype)
        elif _is_sequence(value.type):  # a list of tensors of the element shape
            feeds[value.name] = [_random_array(rng, dtype, shape) for _ in range(2)]
        else:
            feeds[value.name] = _random_array(rng, dtype, shape, rules.get(value.name))
    return feeds


def _is_sequence(kind: ir.TypeProtocol | None) -> bool:
    if isinstance(kind, ir.OptionalType):
        return _is_sequence(kind.elem_type)
    return isinstance(kind, ir.SequenceType)


def _check_generated_shape(name: str, shape: tuple[int, ...]) -> None:
    """Refuse, before allocating, a shape no array can have or one too large to make up."""
    if any(dim < 0 for dim in shape):
        raise InputError(f"input '{name}' has a negative dim in its shape {list(shape)}")
    count = math.prod(shape)
    if count > MAX_GENERATED_ELEMENTS:
        raise InputError(
            f"input '{name}' of shape {list(shape)} has {count:,} elements, more than graphkit "
            f"generates ({MAX_GENERATED_ELEMENTS:,}); pass inputs with --inputs data.npz"
        )


def _numpy_dtype(value: ir.Value) -> np.dtype:
    if value.dtype is None:
        raise InputError(f"input '{value.name}' has no declared element type")
    try:
        return np.dtype(value.dtype.numpy())
    except (TypeError, ValueError):
        raise InputError(
            f"input '{value.name}' has dtype {value.dtype.name}, which graphkit cannot generate "
            "data for; pass inputs with --inputs data.npz"
        ) from None


def _random_array(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...],
                  rule: Rule | None = None) -> np.ndarray:
    """`rule`: the values the input's consumers accept (graphkit._input_rules), if known."""
    drawn = rule.draw(rng, shape) if rule is not None and dtype.kind in "iuf" else None
    if drawn is not None:
        return drawn.astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        # Small non-negative values: valid as indices, token ids and sizes alike.
        return rng.integers(0, 4, size=shape).astype(dtype)
    if np.issubdtype(dtype, np.floating) or dtype.kind == "V":
        return rng.standard_normal(size=shape).astype(dtype)
    if dtype.kind in {"U", "S", "O"}:
        return np.array(rng.choice(["a", "bc", "def"], size=shape), dtype=object)
    return rng.standard_normal(size=shape).astype(dtype)


def load_npz_inputs(path: str, model: ir.Model) -> Feeds:
    try:
        with np.load(path, allow_pickle=False) as data:
            feeds = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise InputError(
            f"{path}: not a readable .npz file of arrays ({first_line(err)})"
        ) from None
    missing = [v.name for v in declared_inputs(model) if v.name not in feeds]
    if missing:
        raise InputError(f"{path}: no array for model input(s) {missing}")
    return feeds
