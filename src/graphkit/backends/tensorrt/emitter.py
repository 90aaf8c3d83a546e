"""TensorRT emitter: the TRT-ready ONNX, its optimization profile and build script, and, where
`tensorrt` and a GPU are present, the serialized engine itself.

For `-o model.engine` it writes, beside the output:
- `model.trt.onnx`: the model as fixed for TensorRT (strongly typed: the tensor types in
  it are the engine's precision; `--precision fp16` gave it graphkit's float16 rewrite);
- `model.profile.json`: the min/opt/max shape of every input (graphkit.backends.tensorrt.profiles);
- `build_engine.sh`: the equivalent `trtexec` build and a `polygraphy run --trt --onnxrt`
  check;
- `model.engine`, built with TensorRT's Python API (_build.py), only where the runner is
  available. Elsewhere the artifact is the .trt.onnx, `metadata["built"]` is False,
  `not_runnable_here` says why (convert then validates nothing), and the notes say plainly
  that no engine was built or validated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import onnx_ir as ir

from graphkit._output import check_output_path, staged_file
from graphkit.backends.artifact import Artifact
from graphkit.backends.tensorrt import runner
from graphkit.backends.tensorrt._bundle import build_script
from graphkit.backends.tensorrt.profiles import (
    InputProfile,
    complete_profile,
    parse_shapes,
    profile_json,
)
from graphkit.backends.tensorrt.target import default_version
from graphkit.errors import InputError
from graphkit.ir import save_onnx
from graphkit.validation import ModelRunner, choose_input_shapes

SUFFIXES = (".engine", ".plan")
SCRIPT = "build_engine.sh"


def bundle_names(output: Path) -> dict[str, Path]:
    """The files written beside `output` (model.engine -> model.trt.onnx, ...)."""
    return {"onnx": output.with_name(f"{output.stem}.trt.onnx"),
            "profile": output.with_name(f"{output.stem}.profile.json"),
            "script": output.with_name(SCRIPT)}


def emit(model: ir.Model, output: str | os.PathLike, *, shapes: Sequence[str] = (),
         workspace_mib: int | None = None, timing_cache: str | os.PathLike | None = None
         ) -> Artifact:
    """Write the bundle (and the engine where TensorRT runs); return what was written.

    `shapes`: `name=MIN:OPT:MAX` strings (see profiles.py); `workspace_mib`: the builder's
    workspace limit; `timing_cache`: a file read before and written after the build."""
    output = check_output_path(output, SUFFIXES, "the TensorRT engine")
    if workspace_mib is not None and workspace_mib <= 0:
        raise InputError(f"--workspace {workspace_mib}: give a positive size in MiB")
    profile = complete_profile(model, parse_shapes(shapes, model), _validation_shapes(model))
    names = bundle_names(output)
    save_onnx(model, names["onnx"])
    _write_text(names["profile"], json.dumps(profile_json(profile, default_version()), indent=2))
    # Absolute: the script runs from its own folder, and the build may run from anywhere.
    cache = str(Path(timing_cache).resolve()) if timing_cache is not None else None
    why_not = runner.available()
    _write_text(names["script"], build_script(names["onnx"].name, output.name, profile,
                                              workspace_mib=workspace_mib, timing_cache=cache,
                                              not_built_because=why_not))
    metadata: dict[str, Any] = {
        "format": "engine", "strongly_typed": True, "precision": _precision(model),
        "profile": profile_json(profile, default_version())["profiles"][0],
        "files": [str(path) for path in names.values()],
    }
    if why_not is not None:
        notes = [f"engine NOT built and NOT validated: {why_not}",
                 f"on a machine with TensorRT and a GPU, run: bash {SCRIPT}"]
        metadata.update(built=False, not_built_because=why_not, not_runnable_here=why_not,
                        notes=notes)
        return Artifact(path=names["onnx"], target="tensorrt", metadata=metadata)
    from graphkit.backends.tensorrt._build import build_engine

    metadata["build"] = build_engine(names["onnx"], output, profile, workspace_mib=workspace_mib,
                                     timing_cache=Path(cache) if cache else None)
    metadata.update(built=True, notes=[])
    metadata["files"].append(str(output))
    return Artifact(path=output, target="tensorrt", metadata=metadata)


def _write_text(path: Path, text: str) -> None:
    with staged_file(path) as staged:
        Path(staged).write_text(text, encoding="utf-8")


def _validation_shapes(model: ir.Model) -> Mapping[str, tuple[int, ...]]:
    """The shapes graphkit validates with, for dynamic inputs the user gave no range for
    (computed only when one exists: it may run the model)."""
    if not any(not isinstance(d, int) for v in model.graph.inputs for d in (v.shape or (None,))):
        return {}

    try:
        return choose_input_shapes(model, ModelRunner(model)).shapes
    except InputError:
        return {}  # complete_profile names the input that needs --shapes


def _precision(model: ir.Model) -> str:
    """float16 when any tensor the graph stores or computes is float16 (the float16 rewrite
    ran); the engine's precision is the graph's types, nothing else."""
    half = ir.DataType.FLOAT16
    values = [*model.graph.inputs, *model.graph.initializers.values(),
              *(out for node in model.graph for out in node.outputs)]
    return "float16" if any(value.dtype == half for value in values) else "float32"


def profile_entries(model: ir.Model, shapes: Sequence[str]) -> dict[str, InputProfile]:
    """The user's --shapes, checked against the model (for the CLI's validation inputs)."""
    return parse_shapes(shapes, model)
