"""Which node makes an artifact's numbers drift? Compare it value by value with ONNX Runtime.

    result = graphkit.layerwise.compare("model.onnx", "model.tflite")
    result.first          # the first node (topological order) whose output is out of tolerance
    result.path           # how the error grows from there to an output

The reference runs the model with every node output exposed; the artifact exposes what its
format allows (graphkit.backends.intermediates). Values are matched by ONNX name: graphkit's
emitters keep the names of the values they write, and so do the rewrites that keep a value.
In topological order, the first drifting value's own inputs are all within tolerance (or not
matched: those are named as where the drift may have started instead).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit._generated_inputs import make_inputs
from graphkit._time_limit import DEFAULT_TIMEOUT, check_timeout
from graphkit.backends.intermediates import artifact_values, intermediate_names, onnx_values
from graphkit.frontends import load
from graphkit.runner import Feeds, ModelRunner
from graphkit.validation import DEFAULT_ATOL, DEFAULT_RTOL, choose_input_shapes, compare_outputs

PATH_LIMIT = 64  # steps followed from the first drift towards an output


@dataclass(frozen=True)
class ValueDrift:
    """One value compared: the node that computes it, and its error against the reference."""

    value: str
    node: str
    op: str
    max_abs: float
    max_rel: float
    ok: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "node": self.node, "op": self.op, "max_abs": self.max_abs,
                "max_rel": self.max_rel, "ok": self.ok, "reason": self.reason}


@dataclass
class Comparison:
    model: str
    artifact: str
    rtol: float
    atol: float
    values: list[ValueDrift]  # the matched values, in topological order
    unmatched: list[str]  # reference values the artifact does not expose
    first: ValueDrift | None = None
    inputs_of_first: list[ValueDrift] = field(default_factory=list)
    unmatched_upstream: list[str] = field(default_factory=list)  # where it may have started
    path: list[ValueDrift] = field(default_factory=list)  # from `first` to an output
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.first is None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "artifact": self.artifact, "ok": self.ok,
            "rtol": self.rtol, "atol": self.atol,
            "first_drift": self.first.to_json() if self.first else None,
            "inputs_of_first": [drift.to_json() for drift in self.inputs_of_first],
            "unmatched_upstream": self.unmatched_upstream,
            "path": [drift.to_json() for drift in self.path],
            "compared": len(self.values), "unmatched": len(self.unmatched),
            "values": [drift.to_json() for drift in self.values], "note": self.note,
        }


def compare(model: Any, artifact: str | os.PathLike, *, inputs: Feeds | None = None,
            rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
            timeout: float | None = DEFAULT_TIMEOUT) -> Comparison:
    """Run `model` (ONNX Runtime) and `artifact` on the same inputs, compare every value both
    expose, and find the first node whose output drifts beyond allclose(rtol, atol)."""
    timeout = check_timeout(timeout)
    path = Path(artifact)
    reference = load(model)
    feeds = inputs if inputs is not None else _generated_feeds(reference, timeout)
    expected = onnx_values(reference, feeds, timeout=timeout)
    actual, note = artifact_values(path, feeds, timeout=timeout)
    producers = {value.name: node for node in reference.graph for value in node.outputs
                 if value is not None}
    drifts, unmatched = _drifts(reference, expected, actual, producers, rtol, atol)
    result = Comparison(str(model) if isinstance(model, (str, os.PathLike)) else "model",
                        str(path), rtol, atol, drifts, unmatched, note=note)
    first = next((drift for drift in drifts if not drift.ok), None)
    if first is not None:
        _explain(result, first, producers)
    return result


def _generated_feeds(model: ir.Model, timeout: float | None) -> Feeds:
    choice = choose_input_shapes(model, ModelRunner(model, timeout=timeout))
    return make_inputs(model, choice.shapes)


def _drifts(model: ir.Model, expected: Feeds, actual: Feeds, producers: dict[str, ir.Node],
            rtol: float, atol: float) -> tuple[list[ValueDrift], list[str]]:
    drifts, unmatched = [], []
    for name in intermediate_names(model):
        if name not in expected:
            continue
        if name not in actual:
            unmatched.append(name)
            continue
        want = expected[name]
        got = _same_layout(np.asarray(actual[name]), want.shape)
        diff = compare_outputs({name: want}, {name: got}, rtol=rtol, atol=atol)[0]
        node = producers[name]
        drifts.append(ValueDrift(name, node.name or node.op_type, node.op_type, diff.max_abs,
                                 diff.max_rel, diff.ok, diff.reason))
    return drifts, unmatched


def _same_layout(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A 4-D value an emitter keeps as NHWC (TFLite), back in the reference's NCHW."""
    if value.shape != shape and value.ndim == 4 and value.transpose(0, 3, 1, 2).shape == shape:
        return value.transpose(0, 3, 1, 2)
    return value


def _explain(result: Comparison, first: ValueDrift, producers: dict[str, ir.Node]) -> None:
    """The first drift's inputs, unmatched values above it, and its path to an output."""
    by_name = {drift.value: drift for drift in result.values}
    node = producers[first.value]
    result.first = first
    result.inputs_of_first = [by_name[v.name] for v in node.inputs
                              if v is not None and v.name in by_name]
    result.unmatched_upstream = _unmatched_upstream(node, by_name, set(result.unmatched))
    result.path = _path_to_output(first, producers, by_name)


def _unmatched_upstream(node: ir.Node, matched: dict[str, ValueDrift],
                        unmatched: set[str]) -> list[str]:
    """Values above `node` not compared, reached without passing a compared one."""
    found: list[str] = []
    stack = [v for v in node.inputs if v is not None]
    while stack and len(found) < PATH_LIMIT:
        value = stack.pop()
        if value.name in matched or value.name not in unmatched or value.name in found:
            continue
        found.append(value.name)
        producer = value.producer()
        if producer is not None:
            stack.extend(v for v in producer.inputs if v is not None)
    return found


def _path_to_output(first: ValueDrift, producers: dict[str, ir.Node],
                    matched: dict[str, ValueDrift]) -> list[ValueDrift]:
    """From `first`, the consumer with the largest error at each step, to a graph output."""
    path = [first]
    current = _value(producers, first.value)
    while len(path) < PATH_LIMIT:
        nexts = [matched[out.name] for user, _ in current.uses() for out in user.outputs
                 if out is not None and out.name in matched and matched[out.name] not in path]
        if not nexts:
            break
        step = max(nexts, key=lambda drift: drift.max_abs)
        path.append(step)
        current = _value(producers, step.value)
    return path


def _value(producers: dict[str, ir.Node], name: str) -> ir.Value:
    return next(v for v in producers[name].outputs if v is not None and v.name == name)
