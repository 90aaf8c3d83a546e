"""ONNX Runtime emitter: the model as ORT-optimized ONNX, or as an .ort file for mobile builds.

The optimization level decides portability: `basic` keeps standard ONNX ops only;
`extended` adds com.microsoft fused ops (any ORT build with contrib ops runs it); `all`
also applies layout transforms tuned to this machine's CPU, so its output should run on
the machine that made it. An `.ort` output also gets `<name>.config` beside it: the
operators and types a reduced ORT build needs to run it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import onnx_ir as ir

from graphkit._output import check_output_path, publish
from graphkit._quiet import ort_log_severity
from graphkit.backends.artifact import Artifact
from graphkit.backends.ort import LEVELS
from graphkit.backends.ort.runner import FLOAT16_UNSAFE_OPTIMIZERS
from graphkit.errors import InputError, first_line, quoted
from graphkit.ir import save_onnx
from graphkit.ir._initializers import overridable_initializers
from graphkit.validation import declared_inputs

SUFFIXES = (".onnx", ".ort")


def emit(model: ir.Model, output: str | os.PathLike, *, optimization: str = "extended") -> Artifact:
    """Write `output` (.onnx or .ort) atomically and return what was written."""
    import onnxruntime as ort

    output = check_output_path(output, SUFFIXES, "the ONNX Runtime artifact")
    if optimization not in LEVELS:
        raise InputError(f"unknown ORT optimization level {optimization!r}; use one of {LEVELS}")
    ort_format = output.suffix.lower() == ".ort"
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent.resolve()))
    try:
        source = save_onnx(model, staging / "source.onnx")
        staged = staging / output.name
        options = _session_options(ort, optimization, staged, ort_format)
        unsafe = FLOAT16_UNSAFE_OPTIMIZERS if _has_float16(model) else ()
        try:
            ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"],
                                 disabled_optimizers=list(unsafe))
        except Exception as err:
            why = re.sub(r"Load model from \S+ failed:", "", first_line(err))  # a staged path
            raise InputError(f"ONNX Runtime cannot load the model: {why}") from None
        if overridable_initializers(model.graph):
            _check_inputs_kept(ort, staged, model)
        files = [output]
        if ort_format:
            config = output.with_name(output.name + ".config")
            _write_operator_config(staged, staging / config.name, output.name)
            publish(staging / config.name, config)
            files.append(config)
        publish(staged, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    notes = ["layout tuned to this CPU: run it on this machine"] if optimization == "all" else []
    return Artifact(
        path=output,
        target="ort",
        metadata={"format": "ort" if ort_format else "onnx", "optimization": optimization,
                  "files": [str(f) for f in files], "notes": notes},
    )


def _session_options(ort, optimization: str, staged: Path, ort_format: bool):
    options = ort.SessionOptions()
    options.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimization]
    options.optimized_model_filepath = str(staged)
    options.log_severity_level = ort_log_severity()
    if ort_format:
        options.add_session_config_entry("session.save_model_format", "ORT")
    return options


def _check_inputs_kept(ort, staged: Path, model: ir.Model) -> None:
    """Refuse an artifact that asks for inputs the model gives defaults for. ORT's optimizer
    (basic and up) drops the defaults of some initializers that are also graph inputs (those
    it would deduplicate), and its artifact then fails at every run for want of them."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = ort_log_severity()
    session = ort.InferenceSession(str(staged), options, providers=["CPUExecutionProvider"])
    declared = {value.name for value in declared_inputs(model)}
    lost = [info.name for info in session.get_inputs() if info.name not in declared]
    if not lost:
        return
    raise InputError(
        f"ONNX Runtime's optimizer dropped the defaults of {len(lost)} initializer(s) that are "
        f"also graph inputs ({quoted(lost)}), so its artifact could not run without them: "
        "fold them into constants first (pass fold-initializer-inputs, which convert runs "
        "unless told --no-fix)")


def _write_operator_config(ort_model: Path, config: Path, final_name: str) -> None:
    """The reduced-build operator config, naming the final file rather than the staged one."""
    from onnxruntime.tools.ort_format_model import create_config_from_models

    # ORT's helper announces its output on its own logger; the CLI reports the files itself.
    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)
    create_config_from_models([ort_model], config, enable_type_reduction=True)
    lines = config.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("#")]
    config.write_text(f"# Operators and types that {final_name} needs in a reduced ORT build.\n"
                      + "".join(kept))


def _has_float16(model: ir.Model) -> bool:
    values = [*model.graph.inputs, *model.graph.outputs, *model.graph.initializers.values()]
    values += [out for node in ir.traversal.RecursiveGraphIterator(model.graph)
               for out in node.outputs]
    return any(value.dtype == ir.DataType.FLOAT16 for value in values)
