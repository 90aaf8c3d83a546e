"""ONNX (onnx-ir) -> torch.fx GraphModule -> TorchScript `.pt`, and running that artifact.

Scripting is tried first because it keeps dynamic dims dynamic and If/Loop as real
control flow; tracing is the fallback and bakes the example shapes into the artifact.
The `.pt` carries its input/output names in an extra file, so `torch.jit.load` alone
(no graphkit) can run it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir
import torch

from graphkit._output import check_output_path, staged_file
from graphkit.backends.artifact import Artifact
from graphkit.backends.torchscript._dtypes import to_torch
from graphkit.backends.torchscript._fx import build_graph_module
from graphkit.backends.torchscript.lowering import unsupported_reason  # conformance reads it here
from graphkit.backends.torchscript.runner import METADATA_FILE
from graphkit.errors import InputError, first_line
from graphkit.ir._walk import CONTROL_FLOW
from graphkit.validation import declared_inputs, make_inputs

SUFFIXES = (".pt",)
# How far the compiled module is optimized: torch.jit.freeze inlines the weights as
# constants and folds the kernels' branches on attributes, conv+batch_norm and
# conv+add/mul pairs. torch.jit.optimize_for_inference (oneDNN layouts, prepacked weights)
# is not applied: its prim::ConstantMKLDNNTensor weights do not survive torch.jit.save
# (torch.jit.load fails: "required keyword attribute 'value' is undefined"); a user may
# apply it after loading. Measured by tools/bench_emit.py (README).
OPTIMIZE = ("freeze", "none")
TRACE_NOTE = "tracing recorded the example input shapes: the artifact runs only at those shapes"


def check_lowerable(model: ir.Model) -> None:
    """Raise InputError for the first node the lowering table rejects (subgraphs included)."""
    opset = model.opset_imports.get("", 1)
    for node in ir.traversal.RecursiveGraphIterator(model.graph):
        reason = unsupported_reason(node, opset)
        if reason is not None:
            raise InputError(f"node '{node.name or node.op_type}' ({node.op_type}): {reason}")


def emit(
    model: ir.Model,
    output: str | os.PathLike,
    *,
    method: str = "auto",
    example_inputs: Mapping[str, np.ndarray] | None = None,
    mobile: bool = False,
    optimize: str = "freeze",
) -> Artifact:
    """Write `output` (.pt); method is 'auto' (script, else trace), 'script' or 'trace';
    optimize is 'freeze' or 'none' (see OPTIMIZE)."""
    if method not in {"auto", "script", "trace"}:
        raise InputError(f"unknown TorchScript method '{method}' (use auto, script or trace)")
    if optimize not in OPTIMIZE:
        raise InputError(f"unknown TorchScript optimize '{optimize}' (use {', '.join(OPTIMIZE)})")
    output = check_output_path(output, SUFFIXES, "the TorchScript artifact")
    check_lowerable(model)
    sources: dict[str, str] = {}
    module, input_names, output_names = build_graph_module(model, sources)
    compiled, used, notes = _compile(model, module, input_names, method, example_inputs)
    compiled, optimized = _optimize(compiled, optimize, notes)
    metadata = {
        "format": "torchscript",
        "method": used,
        "notes": notes,
        "optimized": optimized,
        "inputs": input_names,
        "outputs": output_names,
        "torch": torch.__version__,
    }
    # In the archive only (not in the Artifact, which reports print): fx name -> ONNX
    # value, by which `graphkit compare` reads the intermediate values back.
    archived = {**metadata, "values": sources}
    _save_atomic(compiled, output, archived)
    if mobile:
        metadata["mobile"] = _save_mobile(compiled, output, archived)
    return Artifact(path=output, target="torchscript", metadata=metadata)


def _compile(model, module, input_names, method, example_inputs):
    notes: list[str] = []
    if method in {"auto", "script"}:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.jit.script(module), "script", notes
        except Exception as err:  # TorchScript raises many error types while compiling
            if method == "script":
                raise InputError(f"torch.jit.script failed: {first_line(err)}") from None
            notes.append(f"torch.jit.script failed ({first_line(err)}); traced instead")
    nodes = ir.traversal.RecursiveGraphIterator(model.graph)
    if any(node.op_type in CONTROL_FLOW for node in nodes):
        raise InputError(
            "the model has If/Loop/Scan, which tracing would freeze into one path, "
            "and scripting failed: " + "; ".join(notes)
        )
    feeds = _trace_inputs(model, input_names, example_inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, tuple(feeds), check_trace=False)
    notes.append(TRACE_NOTE)
    return traced, "trace", notes


def _optimize(compiled, optimize: str, notes: list[str]):
    """The module frozen as asked, and whether it was; a module that torch cannot freeze
    stays as it is, with a note."""
    if optimize == "none":
        return compiled, "none"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frozen = torch.jit.freeze(compiled.eval())
    except Exception as err:  # freezing rejects some module forms; the plain one still runs
        notes.append(f"torch.jit.freeze failed ({first_line(err)}); not frozen")
        return compiled, "none"
    return frozen, "freeze"


def _trace_inputs(model, input_names, example_inputs) -> list[torch.Tensor]:
    if example_inputs is not None:
        missing = [name for name in input_names if name not in example_inputs]
        if missing:
            raise InputError(f"example_inputs lacks model input(s) {missing}")
        return [to_torch(example_inputs[name]) for name in input_names]
    shapes = {}
    for value in declared_inputs(model):
        if value.dtype not in {ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.FLOAT16}:
            # Integer and bool inputs may be shapes, indices or conditions: random values
            # would be frozen into the trace and make a silently wrong model.
            raise InputError(
                f"tracing needs example inputs: input '{value.name}' is "
                f"{value.dtype.name.lower() if value.dtype else 'untyped'} (pass example_inputs=)"
            )
        dims = list(value.shape or ())
        if value.shape is None or not all(isinstance(d, int) for d in dims):
            raise InputError(
                f"tracing needs example inputs: input '{value.name}' has dynamic or unknown "
                "dims (pass example_inputs=)"
            )
        shapes[value.name] = tuple(dims)
    feeds = make_inputs(model, shapes)
    return [to_torch(feeds[name]) for name in input_names]


def _save_atomic(module: torch.jit.ScriptModule, output: Path, metadata: dict[str, Any]) -> None:
    with staged_file(output) as temp:
        torch.jit.save(module, temp, _extra_files={METADATA_FILE: json.dumps(metadata)})


def mobile_support() -> str | None:
    """None when this torch can optimize for mobile; else why not."""
    import torch.backends.xnnpack

    if not torch.backends.xnnpack.enabled:
        return "this torch build has no XNNPACK, which optimize_for_mobile needs"
    return None


def _save_mobile(module, output: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Also write `<name>.ptl` for the lite interpreter, optimized where the build allows."""
    result: dict[str, Any] = {"optimized": False}
    why_not = mobile_support()
    if why_not is None:
        from torch.utils.mobile_optimizer import optimize_for_mobile

        module = optimize_for_mobile(module)
        result["optimized"] = True
    else:
        result["note"] = f"optimize_for_mobile skipped: {why_not}"
    lite = output.with_suffix(".ptl")
    try:
        with staged_file(lite) as temp:
            module._save_for_lite_interpreter(
                temp, _extra_files={METADATA_FILE: json.dumps(metadata)})
        result["lite_path"] = str(lite)
    except Exception as err:  # the lite format rejects some ops; the .pt stays valid
        result["lite_error"] = f"lite-interpreter format failed: {first_line(err)}"
    return result
