"""Numerical checks: run a model on real inputs and compare its outputs with a reference.

ONNX Runtime is the reference runtime; onnx's ReferenceEvaluator stands in where ORT
has no kernel. Inputs come from the user (.npz) or are generated from the declared
dtypes and shapes with a fixed seed. Dynamic dims get values the model really accepts:
the example shapes recorded at export, else values implied by constants baked into
the graph, and a dim that is declared dynamic but cannot vary is reported (GK303).
The values themselves are drawn in graphkit._generated_inputs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit._defaults import DEFAULT_ATOL, DEFAULT_RTOL
from graphkit._generated_inputs import (
    declared_inputs,
    make_inputs,
)
from graphkit._time_limit import Deadline, RunTimeout
from graphkit.errors import InputError, first_line
from graphkit.findings import Finding, Severity
from graphkit.runner import Feeds, ModelRunner

EXAMPLE_SHAPES_KEY = "graphkit.example_shapes"


@dataclass(frozen=True)
class OutputDiff:
    name: str
    max_abs: float
    max_rel: float
    ok: bool
    reason: str = ""  # set when shapes/dtypes differ or values are not finite alike

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.name,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "ok": self.ok,
            "reason": self.reason,
        }


def recorded_example_shapes(model: ir.Model) -> dict[str, tuple[int, ...]]:
    raw = model.metadata_props.get(EXAMPLE_SHAPES_KEY)
    if not raw:
        return {}
    try:
        return {name: tuple(int(d) for d in dims) for name, dims in json.loads(raw).items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def record_example_shapes(model: ir.Model, shapes: Mapping[str, tuple[int, ...]]) -> None:
    model.metadata_props[EXAMPLE_SHAPES_KEY] = json.dumps({k: list(v) for k, v in shapes.items()})


@dataclass
class ShapeChoice:
    shapes: dict[str, tuple[int, ...]]
    findings: list[Finding] = field(default_factory=list)


def choose_input_shapes(model: ir.Model, runner: ModelRunner, seed: int = 0) -> ShapeChoice:
    """Pick concrete shapes for the inputs that the model really runs with. All the tries
    together get the runner's time limit; a try that runs out of it ends the search."""
    recorded = recorded_example_shapes(model)
    deadline = Deadline(runner.timeout)
    errors: list[str] = []
    for assignment in _candidate_assignments(model, recorded):
        shapes = _concrete_shapes(model, assignment, recorded)
        try:
            runner.run(make_inputs(model, shapes, seed), seconds=deadline.remaining())
        except RunTimeout:
            raise
        except Exception as err:
            errors.append(first_line(err))
            continue
        frozen = _frozen_dims(model, runner, assignment, seed, deadline)
        return ShapeChoice(shapes, frozen)
    raise no_shapes_error(errors)


def candidate_shapes(model: ir.Model) -> list[dict[str, tuple[int, ...]]]:
    """The input shapes choose_input_shapes tries, in its order (without running anything)."""
    recorded = recorded_example_shapes(model)
    return unique_shapes([_concrete_shapes(model, a, recorded)
                    for a in _candidate_assignments(model, recorded)])


def unique_shapes(shapes: list[dict[str, tuple[int, ...]]]) -> list[dict[str, tuple[int, ...]]]:
    """In order, without repeats (dicts are not hashable, and the lists are short)."""
    return [s for i, s in enumerate(shapes) if s not in shapes[:i]]


def no_shapes_error(errors: list[str]) -> InputError:
    return InputError(
        "could not find input shapes the model runs with (tried "
        f"{len(errors)}); pass inputs with --inputs data.npz. Last error: {errors[-1]}"
    )


def _dynamic_dim_names(model: ir.Model) -> list[str]:
    names: list[str] = []
    for value in declared_inputs(model):
        for axis, dim in enumerate(value.shape or ()):
            if not isinstance(dim, int):
                name = _dim_name(value, axis, dim)
                if name not in names:
                    names.append(name)
    return names


def _dim_name(value: ir.Value, axis: int, dim: Any) -> str:
    text = getattr(dim, "value", None)
    return text if isinstance(text, str) and text else f"{value.name}[{axis}]"


def _candidate_assignments(model: ir.Model, recorded: Mapping[str, tuple[int, ...]]):
    names = _dynamic_dim_names(model)
    yield {name: 1 for name in names}
    for value in _baked_dim_values(model):
        # Batch-like dims (axis 0) stay 1; the baked value goes to the others.
        yield {name: (1 if name.endswith("[0]") or "batch" in name.lower() else value)
               for name in names}


def _baked_dim_values(model: ir.Model, limit: int = 6) -> list[int]:
    """Sizes baked into Reshape/Expand/Tile shape constants, most frequent first."""
    counts: Counter[int] = Counter()
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        if node.op_type not in {"Reshape", "Expand", "Tile"} or len(node.inputs) < 2:
            continue
        counts.update(value for value in _shape_constants(node.inputs[1]) if value > 1)
    return [value for value, _ in counts.most_common(limit)]


def _shape_constants(shape: ir.Value | None) -> list[int]:
    """Constant entries of a shape operand: the whole constant, or a Concat's constant parts
    (tracing exporters build shapes as Concat(baked constant, Shape-derived pieces))."""
    if shape is None:
        return []
    parts = [shape]
    producer = shape.producer()
    if producer is not None and producer.op_type == "Concat":
        parts = list(producer.inputs)
    values: list[int] = []
    for part in parts:
        values.extend(_int_constant(part))
    return values


def _int_constant(value: ir.Value | None) -> list[int]:
    """The value's entries if it is a constant of integers, else none. These are guesses for
    candidate shapes, so a constant that cannot be read (a Constant node with no tensor, or
    data that does not fill its dims, in a hostile file) is simply not used."""
    try:
        const = ir.convenience.get_const_tensor(value) if value is not None else None
        if const is None or const.dtype not in (ir.DataType.INT64, ir.DataType.INT32):
            return []
        return [int(v) for v in np.asarray(const.numpy()).ravel()]
    except (TypeError, ValueError):
        return []


def _concrete_shapes(model, assignment, recorded) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for value in declared_inputs(model):
        if value.name in recorded:
            shapes[value.name] = recorded[value.name]
            continue
        dims = []
        for axis, dim in enumerate(value.shape or ()):
            dims.append(dim if isinstance(dim, int) else assignment[_dim_name(value, axis, dim)])
        shapes[value.name] = tuple(dims)
    return shapes


def _frozen_dims(model, runner, assignment, seed, deadline: Deadline) -> list[Finding]:
    """GK303 for each dynamic dim the model fails to run at one more than its chosen value.
    Advisory: the dims left when the time limit runs out are not checked."""
    findings = []
    base = _concrete_shapes(model, assignment, {})
    for name in _dynamic_dim_names(model):
        current = _dim_value(model, name, base)
        varied = {**assignment, name: current + 1}
        try:
            runner.run(make_inputs(model, _concrete_shapes(model, varied, {}), seed),
                       seconds=deadline.remaining())
        except RunTimeout:
            break
        except Exception as err:
            findings.append(
                Finding(
                    code="GK303",
                    severity=Severity.WARNING,
                    message=(
                        f"dim '{name}' is declared dynamic but the graph runs only at "
                        f"{name}={current}; at {current + 1} it fails{_failure_site(err)}"
                    ),
                    fix="pin-shapes",
                )
            )
    return findings


def _dim_value(model: ir.Model, name: str, shapes: Mapping[str, tuple[int, ...]]) -> int:
    for value in declared_inputs(model):
        for axis, dim in enumerate(value.shape or ()):
            if not isinstance(dim, int) and _dim_name(value, axis, dim) == name:
                return shapes[value.name][axis]
    raise KeyError(name)


def compare_outputs(
    reference: Feeds, candidate: Feeds, *, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL
) -> list[OutputDiff]:
    """Per output: max abs and rel error, and whether allclose(rtol, atol) holds."""
    diffs = []
    for name, expected in reference.items():
        if name not in candidate:
            diffs.append(OutputDiff(name, float("inf"), float("inf"), False, "output missing"))
            continue
        actual = np.asarray(candidate[name])
        diffs.append(_compare_one(name, np.asarray(expected), actual, rtol, atol))
    return diffs


def _compare_one(name, expected, actual, rtol, atol) -> OutputDiff:
    if expected.shape != actual.shape:
        return OutputDiff(name, float("inf"), float("inf"), False,
                          f"shape {actual.shape} != reference {expected.shape}")
    if expected.dtype.kind in {"U", "S", "O"} or actual.dtype.kind in {"U", "S", "O"}:
        same = bool(np.array_equal(expected, actual))
        return OutputDiff(name, 0.0 if same else float("inf"), 0.0 if same else float("inf"), same)
    if expected.size == 0:
        return OutputDiff(name, 0.0, 0.0, True)
    exp = expected.astype(np.float64)
    act = actual.astype(np.float64)
    nan_mismatch = np.isnan(exp) != np.isnan(act)
    finite = np.isfinite(exp) & np.isfinite(act)
    either_inf = (~np.isfinite(exp) | ~np.isfinite(act)) & ~np.isnan(exp) & ~np.isnan(act)
    inf_mismatch = either_inf & (exp != act)
    abs_err = np.abs(exp[finite] - act[finite])  # inf - inf would warn, and is not an error
    max_abs = float(abs_err.max()) if abs_err.size else 0.0
    with np.errstate(over="ignore"):  # a tiny reference value gives an infinite ratio: fine
        rel = abs_err / np.maximum(np.abs(exp[finite]), np.finfo(np.float64).tiny)
    max_rel = float(rel.max()) if rel.size else 0.0
    close = bool(np.all(abs_err <= atol + rtol * np.abs(exp[finite])))
    if nan_mismatch.any() or inf_mismatch.any():
        return OutputDiff(name, float("inf"), float("inf"), False, "NaN/Inf at different places")
    return OutputDiff(name, max_abs, max_rel, close)


def _failure_site(err: BaseException) -> str:
    """' in Reshape node 'x'' from an ONNX Runtime error, else its first line."""
    found = re.search(r"running (\w+) node\. Name:'([^']*)'", str(err))
    if found:
        return f" in {found.group(1)} node '{found.group(2)}'"
    return f": {first_line(err)}"
