"""The sets of values a generated input may be drawn from, and the dims the rules read.

graphkit._input_rules decides which set suits an input (an index below the size it
indexes, distinct axes, split sizes that add up); each set here draws an array of a given
shape, or None where it cannot fill that shape (then the input keeps the default draw).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

Dims = tuple[int | None, ...]
# Sets drawn entry by entry in Python (split sizes, shapes) are for small operands; a larger
# input keeps the default draw.
MAX_ENTRIES = 4096


@dataclass(frozen=True)
class Ints:
    """Whole numbers in [low, high)."""

    low: int
    high: int

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | None:
        return rng.integers(self.low, self.high, size=shape) if self.low < self.high else None


@dataclass(frozen=True)
class Floats:
    """Reals in [low, high)."""

    low: float
    high: float

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | None:
        return rng.uniform(self.low, self.high, size=shape)


@dataclass(frozen=True)
class Distinct:
    """Different entries of `choices` (axes lists: an axis may not be named twice)."""

    choices: tuple[int, ...]

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | None:
        count = int(np.prod(shape))
        if count > len(self.choices):
            return None
        return rng.permutation(np.array(self.choices, dtype=np.int64))[:count].reshape(shape)


@dataclass(frozen=True)
class Values:
    """Exactly these values, where the input has as many entries."""

    values: tuple[float, ...]

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | None:
        if int(np.prod(shape)) != len(self.values):
            return None
        return np.array(self.values).reshape(shape)


@dataclass(frozen=True)
class Parts:
    """Sizes that add up to `total`, as many as the input has entries (Split)."""

    total: int

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | None:
        count = int(np.prod(shape))
        if not 0 < count <= MAX_ENTRIES:
            return None
        sizes = [self.total // count] * count
        sizes[-1] += self.total % count
        return np.array(sizes).reshape(shape)


@dataclass(frozen=True)
class ShapeFor:
    """A shape operand the data accepts: its own dims, as long as the input is (Reshape
    merges the leading ones, Expand keeps the trailing ones and broadcasts)."""

    dims: tuple[int, ...]
    merge: bool  # True for Reshape, False for Expand

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray | None:
        if len(shape) != 1 or shape[0] > MAX_ENTRIES:
            return None
        count, dims = shape[0], list(self.dims)
        if count >= len(dims):
            return np.array([1] * (count - len(dims)) + dims)
        if count == 0:
            return None
        cut = len(dims) - count + 1
        head = [int(np.prod(dims[:cut]))] if self.merge else dims[cut - 1:cut]
        return np.array(head + dims[cut:])


Rule = Ints | Floats | Distinct | Values | Parts | ShapeFor


class KnownDims:
    """Concrete dims of values: the generated shapes of graph inputs, their symbolic dims
    wherever else they occur, and the static dims the model declares."""

    def __init__(self, model: ir.Model, shapes: Mapping[str, tuple[int, ...]]) -> None:
        self.inputs = {v.name: shapes[v.name] for v in model.graph.inputs if v.name in shapes}
        self.named: dict[str, int] = {}
        for value in model.graph.inputs:
            for dim, size in zip(value.shape or (), self.inputs.get(value.name, ())):
                if isinstance(getattr(dim, "value", None), str):
                    self.named.setdefault(dim.value, size)

    def of(self, value: ir.Value | None) -> Dims | None:
        if value is None:
            return None
        if value.name in self.inputs and value.is_graph_input():
            return self.inputs[value.name]
        if value.const_value is not None:
            return tuple(value.const_value.shape)
        if value.shape is None:
            return None
        return tuple(d if isinstance(d, int) else self.named.get(getattr(d, "value", None) or "")
                     for d in value.shape)

    def static(self, value: ir.Value | None) -> tuple[int, ...] | None:
        dims = self.of(value)
        return None if dims is None or None in dims else dims  # type: ignore[return-value]

    def axis(self, node: ir.Node, data: int, attr: str | None = "axis", default: int = 0
             ) -> int | None:
        """The size of `node.inputs[data]` along the axis its attribute `attr` names (or
        `default`, also where the op has no such attribute)."""
        dims = self.of(node.inputs[data] if data < len(node.inputs) else None)
        if not dims:
            return None
        axis = node.attributes.get_int(attr, default) if attr else default
        return dims[axis] if -len(dims) <= axis < len(dims) else None

    def rank(self, node: ir.Node, data: int = 0) -> int | None:
        dims = self.of(node.inputs[data])
        return None if dims is None else len(dims)
