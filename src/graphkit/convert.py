"""convert = fix for the target, emit, and prove the artifact against the original model.

`validate` compares any artifact with its reference model on the same inputs: the
inputs given (.npz) or generated with shapes the artifact's model accepts.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit._time_limit import DEFAULT_TIMEOUT, check_timeout
from graphkit.emitters import emitter, runner_for
from graphkit.emitters.artifact import Artifact
from graphkit.frontends import load
from graphkit.ir import copy_model
from graphkit.validation import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    Feeds,
    ModelRunner,
    OutputDiff,
    choose_input_shapes,
    compare_outputs,
    make_inputs,
)


def convert(
    source: Any,
    target: str,
    output: str | os.PathLike,
    *,
    fix: bool = True,
    inputs: Feeds | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    fix_options: dict[str, Any] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **emit_options: Any,
) -> Artifact:
    """Fix `source` for `target`, write the artifact to `output`, and validate it.
    `timeout`: seconds one run of a model may take (see graphkit.fix)."""
    timeout = check_timeout(timeout)
    target_emitter = emitter(target)
    original = load(source)
    model = copy_model(original)
    fix_report = None
    if fix:
        from graphkit.fix import fix as fix_model

        model, fix_report = fix_model(model, target, **{"timeout": timeout, **(fix_options or {})})
    # Before anything is written: a model that does not run (or not in time) leaves no file.
    feeds = inputs if inputs is not None else _inputs_for(model, timeout)
    artifact = target_emitter.emit(model, Path(output), **emit_options)
    if fix_report is not None:
        artifact.metadata["fix"] = fix_report.to_json()
    artifact.validation = _compare(original, artifact.path, feeds, rtol, atol, timeout)
    return artifact


def validate(
    artifact: str | os.PathLike | Artifact,
    reference: Any,
    *,
    inputs: Feeds | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> list[OutputDiff]:
    """Per output: max abs and rel error of the artifact against the reference model.
    `timeout`: seconds one run may take (a .pt artifact's own run is not limited: the
    TorchScript interpreter cannot be stopped from Python)."""
    timeout = check_timeout(timeout)
    path = artifact.path if isinstance(artifact, Artifact) else Path(artifact)
    reference_model = load(reference)
    feeds = inputs if inputs is not None else _inputs_for(reference_model, timeout)
    return _compare(reference_model, path, feeds, rtol, atol, timeout)


def _inputs_for(model: ir.Model, timeout: float | None) -> Feeds:
    """Inputs with shapes the model runs with (its pinned shapes, if a fix pinned them)."""
    choice = choose_input_shapes(model, ModelRunner(model, timeout=timeout))
    return make_inputs(model, choice.shapes)


def _compare(reference: ir.Model, path: Path, feeds: Feeds, rtol: float, atol: float,
             timeout: float | None):
    expected = ModelRunner(reference, timeout=timeout).run(feeds)
    run_artifact = runner_for(path).run_artifact
    # Runners that can stop a run take the limit (ORT); TorchScript's cannot be stopped.
    takes_limit = "timeout" in inspect.signature(run_artifact).parameters
    actual = run_artifact(path, feeds, **({"timeout": timeout} if takes_limit else {}))
    # Outputs are matched by position: emitters may rename them (TorchScript has no names).
    renamed = {name: np.asarray(value) for name, value in zip(expected, actual.values())}
    return compare_outputs(expected, renamed, rtol=rtol, atol=atol)
