"""convert = fix for the target, emit, and prove the artifact against the original model.

`validate` compares any artifact with its reference model on the same inputs: the
inputs given (.npz) or generated with shapes the artifact's model accepts.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit._output import check_output_path, publish
from graphkit._progress import step
from graphkit._time_limit import DEFAULT_TIMEOUT, check_timeout
from graphkit._vacuous import vacuous_check
from graphkit.backends import emitter, runner_for
from graphkit.backends.artifact import Artifact
from graphkit.errors import InputError
from graphkit.fixing import fix as fix_model
from graphkit.frontends import load
from graphkit.ir import copy_model
from graphkit.runner import LightModel, ModelRunner, refuse_invalid_onnx
from graphkit.validation import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    Feeds,
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

    `inputs`: what the fix's proofs and the final validation run on (else generated ones).
    `timeout`: seconds one run of a model may take (see graphkit.fix).

    `output` is checked before any work. The artifact is written and checked in a staging
    folder beside it, and moved into place once the check has run: an artifact whose outputs
    differ from the reference is still written (`validated` is False; the CLI exits 1 and the
    file is there to inspect), while a failed fix, emit or check leaves no file, and a file
    already at `output` as it was."""
    timeout = check_timeout(timeout)
    target_emitter = emitter(target)
    output = check_output_path(output, target_emitter.SUFFIXES, f"the {target} artifact")
    _refuse_overwriting_the_source(source, output)
    original = load(source)
    model = copy_model(original)
    fix_report = None
    if fix:
        step(f"fixing for {target}")
        # The proof runs on the caller's inputs too: generated ones may not suit the model.
        options = {"inputs": inputs, "timeout": timeout, **(fix_options or {})}
        # what the emitter needs besides the target's fixes (TFLite: the NHWC layout)
        prepare = getattr(target_emitter, "PREPARE", "")
        if prepare:
            options["passes"] = ",".join(p for p in (options.get("passes"), prepare) if p)
        model, fix_report = fix_model(model, target, **options)
        accepted = getattr(target_emitter, "accepted_findings", lambda **_: frozenset())
        _refuse_blocked(fix_report, target, accepted(**emit_options))
    else:  # fix refuses what the ONNX checker rejects; without it, so does convert
        refuse_invalid_onnx(LightModel.of(model).proto)
    # Before anything is written: a model that does not run (or not in time) fails here.
    feeds = inputs if inputs is not None else _inputs_for(model, timeout)
    with _staging_folder(output) as staging:
        step(f"emitting the {target} artifact")
        artifact = target_emitter.emit(model, staging / output.name, **emit_options)
        if fix_report is not None:
            artifact.metadata["fix"] = fix_report.to_json()
        # An artifact this machine cannot run (a TensorRT engine without TensorRT, Flex ops
        # without a Flex delegate) says why: nothing was run, so nothing is validated.
        if not artifact.metadata.get("not_runnable_here"):
            step("validating it against ONNX Runtime")
            warnings: list[str] = []
            artifact.validation = _compare(original, artifact.path, feeds, rtol, atol, timeout,
                                           warnings)
            if warnings:
                artifact.metadata["warnings"] = warnings
        return _publish(artifact, staging, output)


def validate(
    artifact: str | os.PathLike | Artifact,
    reference: Any,
    *,
    inputs: Feeds | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    timeout: float | None = DEFAULT_TIMEOUT,
    warnings: list[str] | None = None,
) -> list[OutputDiff]:
    """Per output: max abs and rel error of the artifact against the reference model.
    `timeout`: seconds one run may take (a .pt artifact's own run is not limited: the
    TorchScript interpreter cannot be stopped from Python). `warnings`, when given, receives
    what makes the comparison weak (outputs that hardly change with the input: GK506)."""
    timeout = check_timeout(timeout)
    path = artifact.path if isinstance(artifact, Artifact) else Path(artifact)
    reference_model = load(reference)
    feeds = inputs if inputs is not None else _inputs_for(reference_model, timeout)
    return _compare(reference_model, path, feeds, rtol, atol, timeout, warnings)


def _refuse_blocked(report, target: str, accepted: frozenset[str] = frozenset()) -> None:
    """What diagnose calls unsupported after every fix, the emitter cannot emit: say which
    node and why in diagnose's words, not in the words of the emitter or runtime failing.
    `accepted`: finding codes the emitter's options take on (GK107 with --allow-flex)."""
    left = [(finding, why) for finding, why in report.unresolved if finding.code not in accepted]
    if not left:
        return
    finding, _ = left[0]
    more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
    raise InputError(f"{target} cannot run the model: {finding.code} at "
                     f"{finding.node or 'model'}: {finding.message}{more}; "
                     f"`graphkit diagnose --target {target}` lists every finding")


def _refuse_overwriting_the_source(source: Any, output: Path) -> None:
    if not isinstance(source, (str, os.PathLike)) or not output.exists():
        return
    if Path(source).exists() and os.path.samefile(source, output):
        raise InputError(f"{output}: is the input model; graphkit never overwrites its input "
                         "(choose another output path)")


@contextlib.contextmanager
def _staging_folder(output: Path) -> Iterator[Path]:
    """A hidden folder beside `output` (same file system, so moving out of it is a rename)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent.resolve()))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(artifact: Artifact, staging: Path, output: Path) -> Artifact:
    """Move the artifact's files (it may write companions: .ort.config, .ptl) into place,
    the artifact last, and point the artifact at them."""
    companions = sorted(p for p in staging.iterdir() if p.is_file() and p != artifact.path)
    for path in [*companions, artifact.path]:
        publish(path, output.parent / path.name)
    artifact.metadata = _relocated(artifact.metadata, staging, output.parent)
    artifact.path = output.parent / artifact.path.name  # `output` unless it was not built
    return artifact


def _relocated(value: Any, staging: Path, folder: Path) -> Any:
    """Metadata with the staged files' paths replaced by their published ones."""
    if isinstance(value, dict):
        return {key: _relocated(item, staging, folder) for key, item in value.items()}
    if isinstance(value, list):
        return [_relocated(item, staging, folder) for item in value]
    if isinstance(value, str) and Path(value).parent == staging:
        return str(folder / Path(value).name)
    return value


def _inputs_for(model: ir.Model, timeout: float | None) -> Feeds:
    """Inputs with shapes the model runs with (its pinned shapes, if a fix pinned them)."""
    choice = choose_input_shapes(model, ModelRunner(model, timeout=timeout))
    return make_inputs(model, choice.shapes)


def _compare(reference: ir.Model, path: Path, feeds: Feeds, rtol: float, atol: float,
             timeout: float | None, warnings: list[str] | None = None):
    reference_runner = ModelRunner(reference, timeout=timeout)
    expected = reference_runner.run(feeds)
    run_artifact = runner_for(path).run_artifact
    # Runners that can stop a run take the limit (ORT); TorchScript's cannot be stopped.
    takes_limit = "timeout" in inspect.signature(run_artifact).parameters
    actual = run_artifact(path, feeds, **({"timeout": timeout} if takes_limit else {}))
    # Outputs are matched by position: emitters may rename them (TorchScript has no names).
    renamed = {name: np.asarray(value) for name, value in zip(expected, actual.values())}
    diffs = compare_outputs(expected, renamed, rtol=rtol, atol=atol)
    if warnings is not None and all(diff.ok for diff in diffs):  # a pass that proves little?
        vacuous = vacuous_check(reference_runner, feeds, expected, rtol=rtol, atol=atol)
        if vacuous is not None:
            warnings.append(f"{vacuous.code} {vacuous.message}")
    return diffs
