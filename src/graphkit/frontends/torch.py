"""PyTorch frontend: what ONNX graph does `torch.onnx.export` make of this nn.Module?

    graphkit.load(module, example_inputs=x)                       # TorchScript-based exporter
    graphkit.load(module, example_inputs=(x, mask), exporter="dynamo", opset=18,
                  dynamic_axes={"x": {0: "batch", 1: "seq"}})

The module is switched to eval mode for the export (dropout off, BatchNorm on its
running statistics) and every submodule gets its own mode back afterwards. The
export goes to a private temporary folder, never to the user's folders, and the
weights are read into memory before that folder is deleted.

Options: example_inputs (a tensor or a tuple of tensors; required), exporter
("torchscript" | "dynamo"), opset, dynamic_axes ({input or output name: {axis: dim
name}} or {name: [axes]}), input_names (default: the parameter names of forward),
output_names (default: "output" or "output_0", "output_1", ...).
"""

from __future__ import annotations

import contextlib
import inspect
import re
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir as ir

from graphkit.errors import InputError, MissingDependencyError, first_line
from graphkit.frontends._common import (
    check_names,
    check_opset,
    check_option_names,
    default_names,
    rename_outputs,
)
from graphkit.frontends._provenance import Provenance, stamp
from graphkit.ir import load_onnx

EXPORTERS = ("torchscript", "dynamo")
OPTIONS = ("example_inputs", "exporter", "opset", "dynamic_axes", "input_names", "output_names")


@dataclass(frozen=True)
class TorchExport:
    """The checked options of one export."""

    example_inputs: tuple[Any, ...]  # torch.Tensor each
    input_names: tuple[str, ...]
    output_names: tuple[str, ...] | None
    exporter: str = "torchscript"
    opset: int | None = None
    dynamic_axes: Mapping[str, Any] | None = None


def load_module(module: Any, **options: Any) -> ir.Model:
    """Export an nn.Module to ONNX and return it as an onnx-ir Model with provenance."""
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"expected a torch.nn.Module, got {type(module).__name__}")
    what = type(module).__name__
    export = parse_options(module, options)
    with tempfile.TemporaryDirectory(prefix="graphkit-torch-") as folder:
        path = Path(folder) / "model.onnx"
        with _eval_mode(module), _quiet_exporter():
            _export(torch, module, export, path, what)
        model = load_onnx(path, in_place=False)  # `folder` is about to go
        # The weights may sit in external files in `folder`: read them before it goes.
        ir.external_data.load_to_model(model)
    if export.output_names is None:
        rename_outputs(model, default_names("output", len(model.graph.outputs)))
    exporter = f"torch.onnx-{export.exporter}"
    provenance = Provenance("torch", torch.__version__, exporter, torch.__version__, what)
    return stamp(model, provenance, _example_shapes(model, export))


def parse_options(module: Any, options: Mapping[str, Any]) -> TorchExport:
    """Check every option before any export work starts; errors name the option."""
    check_option_names(options, OPTIONS, "a torch nn.Module")
    if options.get("example_inputs") is None:
        raise InputError(
            f"{type(module).__name__}: option 'example_inputs' is required for a torch "
            "nn.Module (a tensor or a tuple of tensors the model accepts)"
        )
    inputs = _check_example_inputs(options["example_inputs"])
    exporter = options.get("exporter", "torchscript")
    if exporter not in EXPORTERS:
        raise InputError(f"option 'exporter' must be one of {list(EXPORTERS)}, got {exporter!r}")
    input_names = check_names(options.get("input_names"), "input_names", len(inputs))
    output_names = check_names(options.get("output_names"), "output_names")
    input_names = input_names or _forward_names(module, len(inputs))
    dynamic_axes = _check_dynamic_axes(
        options.get("dynamic_axes"), input_names, output_names, inputs
    )
    return TorchExport(
        example_inputs=inputs,
        input_names=input_names,
        output_names=output_names,
        exporter=exporter,
        opset=check_opset(options.get("opset")),
        dynamic_axes=dynamic_axes,
    )


def _import_torch():
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch", "loading a PyTorch nn.Module") from None
    return torch


def _check_example_inputs(example: Any) -> tuple[Any, ...]:
    import torch

    items = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    if not items:
        raise InputError("option 'example_inputs' is empty: give the tensors forward() takes")
    tensors = []
    for index, item in enumerate(items):
        if isinstance(item, np.ndarray):
            item = torch.from_numpy(item)
        if not isinstance(item, torch.Tensor):
            raise InputError(
                f"option 'example_inputs': item {index} is a {type(item).__name__}; "
                "graphkit takes a tensor or a flat tuple of tensors"
            )
        tensors.append(item)
    return tuple(tensors)


def _forward_names(module: Any, count: int) -> tuple[str, ...]:
    """forward's positional parameter names, so that ONNX inputs read like the code."""
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return tuple(default_names("input", count))
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters if p.kind in kinds]
    if len(names) < count:
        return tuple(default_names("input", count))
    return tuple(names[:count])


def _check_dynamic_axes(axes: Any, input_names, output_names, inputs) -> Mapping[str, Any] | None:
    if axes is None:
        return None
    if not isinstance(axes, Mapping):
        raise InputError(f"option 'dynamic_axes' must be a dict, got {type(axes).__name__}")
    ranks = {name: tensor.dim() for name, tensor in zip(input_names, inputs, strict=True)}
    known = set(input_names) | set(output_names or ())
    for name, dims in axes.items():
        if name not in known:
            raise InputError(
                f"option 'dynamic_axes' names {name!r}, which is neither an input "
                f"{list(input_names)} nor a name given in output_names"
            )
        listed = list(dims) if isinstance(dims, (Mapping, list, tuple)) else None
        if listed is None or not all(type(axis) is int for axis in listed):
            raise InputError(f"option 'dynamic_axes' for {name!r}: give {{axis: name}} or [axes]")
        rank = ranks.get(name)
        if rank is not None and any(not 0 <= a < rank for a in listed):
            raise InputError(
                f"option 'dynamic_axes' for {name!r}: axes {listed} outside rank {rank}"
            )
    return dict(axes)


@contextlib.contextmanager
def _eval_mode(module: Any) -> Iterator[None]:
    # module.train(flag) sets every submodule alike; remember each one's own flag.
    modes = [(sub, sub.training) for sub in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for sub, training in modes:
            sub.training = training


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    # graphkit picks the exporter deliberately; its deprecation notices are not the user's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        # graphkit turns a failed dynamo export into one line of its own.
        warnings.filterwarnings("ignore", message=".*'dynamic_axes' is not recommended.*")
        yield


def _export(torch, module: Any, export: TorchExport, path: Path, what: str) -> None:
    kwargs: dict[str, Any] = {
        "input_names": list(export.input_names),
        "output_names": list(export.output_names) if export.output_names else None,
        "opset_version": export.opset,
        "dynamic_axes": export.dynamic_axes,
    }
    if export.exporter == "dynamo":
        _require_onnxscript()
        kwargs.update(verbose=False, report=False, artifacts_dir=str(path.parent))
    try:
        torch.onnx.export(
            module, export.example_inputs, str(path), dynamo=export.exporter == "dynamo", **kwargs
        )
    except Exception as err:  # exporters raise many types; every one is the model's problem
        raise InputError(_describe_failure(err, export, what)) from None


def _require_onnxscript() -> None:
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        raise MissingDependencyError("onnxscript", "all", "the dynamo ONNX exporter") from None


_OP_PATTERNS = (
    re.compile(r"op='(aten\.[\w.]+)'"),
    re.compile(r"(aten::\w+)"),
    re.compile(r"torch\.ops\.(aten\.[\w.]+)"),
    re.compile(r"operator '([\w:.]+)'"),
)
_SUMMARY = re.compile(r"^<class '[\w.]+'>: (.+)$", re.MULTILINE)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')


def _describe_failure(err: Exception, export: TorchExport, what: str) -> str:
    """One line: the module, the exporter, the op that failed where the error names one."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    op = next((m.group(1) for p in _OP_PATTERNS if (m := p.search(text))), None)
    # The dynamo exporter wraps the real cause in a page of advice; its summary holds it.
    summary = _SUMMARY.search(text)
    reason = summary.group(1) if summary else first_line(err)
    opset = f", opset {export.opset}" if export.opset else ""
    at = f" at {op}" if op else _user_frame(text)
    return f"{what}: torch.onnx.export ({export.exporter}{opset}) failed{at}: {reason[:300]}"


def _user_frame(text: str) -> str:
    """' in <file>:<line> (<function>)' for the last frame of user code the error quotes."""
    frames = [
        m
        for m in _FRAME.finditer(text)
        if "site-packages" not in m.group(1) and "/torch/" not in m.group(1)
    ]
    if not frames:
        return ""
    path, line, function = frames[-1].groups()
    return f" in {path}:{line} ({function})"


def _example_shapes(model: ir.Model, export: TorchExport) -> dict[str, tuple[int, ...]]:
    # The exporter drops inputs the graph does not use; record only the ones it kept.
    kept = {value.name for value in model.graph.inputs}
    return {
        name: tuple(int(d) for d in tensor.shape)
        for name, tensor in zip(export.input_names, export.example_inputs, strict=True)
        if name in kept
    }
