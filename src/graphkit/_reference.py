"""The reference run: a model's outputs on the first candidate inputs it runs with, computed
on a worker thread while the caller goes on (graphkit.proof proves rewrites against it)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit._generated_inputs import make_inputs
from graphkit._time_limit import DEFAULT_TIMEOUT, Deadline, RunTimeout
from graphkit.errors import InputError, first_line
from graphkit.runner import Feeds, LightModel, ModelRunner, refuse_invalid_onnx
from graphkit.validation import candidate_shapes, no_shapes_error, unique_shapes


@dataclass(frozen=True)
class ReferenceOutputs:
    feeds: Feeds
    outputs: Feeds
    runtime: str  # "onnxruntime" or "onnx-reference"


class Reference:
    """A model's outputs on the first of some candidate inputs that it runs with, computed on
    a worker thread.

    The model is copied on the caller's thread (as a LightModel), so the caller may rewrite
    it as soon as the constructor returns; the worker opens and runs the copy. ONNX Runtime
    releases the GIL while it builds a session and runs it, so fix's passes proceed
    meanwhile: on the 8,064-node benchmark that hides ~1 s of session set-up and runs.
    `result()` waits, and raises what the worker raised (an InputError when no candidate runs).
    """

    def __init__(self, future: Future[ReferenceOutputs], light: LightModel | None = None) -> None:
        self._future = future
        self.light = light  # the copy the worker runs (None for a reference known already)

    @classmethod
    def start(cls, model: ir.Model, candidates: list[Feeds], *, given: bool = False,
              timeout: float | None = DEFAULT_TIMEOUT) -> Reference:
        """Copy `model` and run it on the worker. `given`: the candidates are the user's
        inputs, not generated ones. `timeout`: seconds for all the candidates together."""
        if not candidates:
            raise ValueError("Reference needs at least one candidate input set")
        light = LightModel.of(model)
        refuse_invalid_onnx(light.proto)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphkit-reference")
        future = pool.submit(_first_that_runs, light, candidates, given, timeout)
        pool.shutdown(wait=False)  # the worker finishes its one job, then exits
        return cls(future, light)

    @classmethod
    def of(cls, model: ir.Model, *, inputs: Feeds | None = None,
           pinned: Mapping[str, tuple[int, ...]] | None = None, seed: int = 0,
           domains: Mapping[str, np.dtype] | None = None,
           timeout: float | None = DEFAULT_TIMEOUT) -> Reference:
        """The model on `inputs`, else on generated inputs of the candidate shapes (with the
        `pinned` shapes overriding theirs) and values from `domains` (see make_inputs)."""
        if inputs is not None:
            return cls.start(model, [dict(inputs)], given=True, timeout=timeout)
        shapes = unique_shapes([_pinned_over(s, pinned or {}) for s in candidate_shapes(model)])
        return cls.start(model, _generated(model, shapes, seed, domains), timeout=timeout)

    @classmethod
    def known(cls, feeds: Feeds, outputs: Feeds, runtime: str = "onnxruntime") -> Reference:
        """A reference already computed (after a rewrite that replaces the outputs by design)."""
        done: Future[ReferenceOutputs] = Future()
        done.set_result(ReferenceOutputs(feeds, outputs, runtime))
        return cls(done)

    def result(self) -> ReferenceOutputs:
        return self._future.result()


def _pinned_over(shapes: Mapping[str, tuple[int, ...]], pinned: Mapping[str, tuple[Any, ...]]
                 ) -> dict[str, tuple[int, ...]]:
    """Candidate `shapes` with each pinned dim (an int in `pinned`; a pin may leave some
    dims symbolic) in place of the candidate's size."""
    out = dict(shapes)
    for name, dims in pinned.items():
        old = out.get(name)
        if old is None or len(old) != len(dims):
            if all(isinstance(d, int) for d in dims):
                out[name] = tuple(dims)
            continue
        out[name] = tuple(d if isinstance(d, int) else o for d, o in zip(dims, old))
    return out


def _generated(model: ir.Model, shapes: list[dict[str, tuple[int, ...]]], seed: int,
               domains: Mapping[str, np.dtype] | None) -> list[Feeds]:
    """Inputs for each candidate shape that inputs can be made for (not too large, say)."""
    candidates, refusals = [], []
    for shape in shapes:
        try:
            candidates.append(make_inputs(model, shape, seed, domains))
        except InputError as err:
            refusals.append(err)
    if not candidates and refusals:
        raise refusals[0]
    return candidates


def _first_that_runs(light: LightModel, candidates: list[Feeds], given: bool,
                     timeout: float | None) -> ReferenceOutputs:
    runner = ModelRunner(light, timeout=timeout)
    deadline = Deadline(timeout)
    errors: list[str] = []
    for feeds in candidates:
        try:
            outputs = runner.run(feeds, seconds=deadline.remaining())
            return ReferenceOutputs(feeds, outputs, runner.runtime)
        except RunTimeout:
            raise
        except Exception as err:  # the next candidate may suit the model
            errors.append(first_line(err))
    if given:
        raise InputError(f"the model does not run on the given inputs: {errors[0]}")
    raise no_shapes_error(errors)
