"""Every intermediate value of a model or an artifact, by ONNX value name, on given inputs.

What `graphkit compare` matches to find the first node that drifts. Each format exposes
its intermediates its own way:
- ONNX (the reference, and .onnx artifacts): every node output becomes a graph output
  (as Polygraphy's `--onnx-outputs mark all`); ONNX Runtime infers the types.
- .tflite: LiteRT with `experimental_preserve_all_tensors`; the emitter names tensors
  after the ONNX values they hold (NHWC ones are transposed back where the shape says so).
- .pt written by graphkit: the forward graph with the values the emitter recorded
  (fx name -> ONNX value) added to its return tuple, run as a function of the module.
- .ort: a flatbuffer ORT cannot be told to expose more: its outputs only.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from graphkit._quiet import native_logs_off
from graphkit._time_limit import DEFAULT_TIMEOUT
from graphkit.backends.ort.runner import run_artifact
from graphkit.backends.tflite import runner as tflite
from graphkit.errors import InputError, MissingDependencyError
from graphkit.ir import load_onnx
from graphkit.runner import Feeds, LightModel, ModelRunner


def intermediate_names(model: ir.Model) -> list[str]:
    """The main graph's node outputs in topological order (the order nodes are stored in,
    which the ONNX spec requires to be topological)."""
    return [value.name for node in model.graph for value in node.outputs
            if value is not None and value.name and _tensor_typed(value)]


def _tensor_typed(value: ir.Value) -> bool:
    return value.type is None or isinstance(value.type, ir.TensorType)


def onnx_values(model: ir.Model, feeds: Feeds, *, timeout: float | None = DEFAULT_TIMEOUT
                ) -> Feeds:
    """Every node output of `model` (and its outputs) on `feeds`, by name."""
    light = LightModel.of(model)
    proto = onnx.ModelProto()
    proto.CopyFrom(light.proto)
    declared = {output.name for output in proto.graph.output}
    for name in intermediate_names(model):
        if name not in declared:
            proto.graph.output.append(onnx.ValueInfoProto(name=name))
            declared.add(name)
    runner = ModelRunner(dataclasses.replace(light, proto=proto), timeout=timeout)
    return _arrays(runner.run(feeds))


def artifact_values(path: Path, feeds: Feeds, *, timeout: float | None = DEFAULT_TIMEOUT
                    ) -> tuple[Feeds, str]:
    """The artifact's values by ONNX name, and a note on what it could expose ('' if all)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return onnx_values(load_onnx(path), feeds, timeout=timeout), ""
    if suffix == ".tflite":
        return tflite_values(path, feeds), ""
    if suffix == ".pt":
        return torchscript_values(path, feeds)
    if suffix == ".ort":
        return (_arrays(run_artifact(path, feeds, timeout=timeout)),
                "an .ort file cannot expose its intermediate values: outputs only")
    raise InputError(f"{path}: graphkit compares .onnx, .ort, .pt and .tflite artifacts")


def _arrays(values: Mapping[str, Any]) -> Feeds:
    """The numeric arrays among `values` (sequences and maps are not compared)."""
    out: Feeds = {}
    for name, value in values.items():
        if isinstance(value, (list, tuple, dict)) or value is None:
            continue
        array = np.asarray(value)
        if array.dtype.kind in "biufc":
            out[name] = array
    return out


def tflite_values(path: Path, feeds: Feeds) -> Feeds:
    """Every tensor LiteRT kept, by name, after one run through the signature."""

    inputs, _outputs, nhwc = tflite.signature_names(path)
    missing = [name for name in inputs if name not in feeds]
    if missing:
        raise InputError(f"{path}: no value for input(s) {missing}")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ModuleNotFoundError:
        raise MissingDependencyError("ai_edge_litert", "tensorflow",
                                     "running a .tflite file") from None
    with native_logs_off(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "intended for debugging purposes only": it is that
        interpreter = Interpreter(model_path=str(path), num_threads=1,
                                  experimental_preserve_all_tensors=True)
        runner = interpreter.get_signature_runner(tflite.SIGNATURE_KEY)
        given = {name: np.asarray(feeds[name]) for name in inputs}
        runner(**{name: np.array(value.transpose(0, 2, 3, 1) if name in nhwc else value,
                                 order="C") for name, value in given.items()})
    values: Feeds = {}
    for detail in interpreter.get_tensor_details():
        try:
            values.setdefault(detail["name"], np.array(interpreter.get_tensor(detail["index"])))
        except ValueError:  # a tensor without data (LiteRT freed or never allocated it)
            continue
    return values


def torchscript_values(path: Path, feeds: Feeds) -> tuple[Feeds, str]:
    """The `.pt`'s outputs, and each value the emitter recorded, by ONNX name."""
    import torch

    from graphkit.backends.torchscript.runner import _from_result, _to_arg, load_metadata

    module, metadata = load_metadata(path)
    missing = [name for name in metadata["inputs"] if name not in feeds]
    if missing:
        raise InputError(f"{path}: no value for input(s) {missing}")
    args = [_to_arg(feeds[name]) for name in metadata["inputs"]]
    # Scripting keeps the fx names as TorchScript value names; a trace names values its own
    # way, so a name there proves nothing about which value it is.
    scripted = metadata.get("method") == "script"
    sources: dict[str, str] = (metadata.get("values") or {}) if scripted else {}
    graph = module.graph.copy()
    exposed = _expose(torch, graph, sources)
    note = "" if exposed else (f"the .pt ({metadata.get('method', 'unknown')}) exposes no "
                               "intermediate values graphkit can name: outputs only")
    function = torch._C._create_function_from_graph("graphkit_compare", graph)
    with torch.no_grad():
        results = function(module._c, *args)
    names = [*metadata["outputs"], *(sources[fx_name] for fx_name, _ in exposed)]
    flat = list(results[0]) + list(results[1:]) if exposed else list(results)
    values = {name: _from_result(value) for name, value in zip(names, flat)}
    return _arrays(values), note


def _expose(torch: Any, graph: Any, sources: Mapping[str, str]) -> list[tuple[str, Any]]:
    """Return (outputs_tuple, *recorded values) instead of the outputs tuple; the values
    are found by their TorchScript names, which are the fx names plus a '.N' suffix."""
    found: dict[str, Any] = {}
    for node in graph.nodes():  # the top block only: a body's values are not reachable
        for value in node.outputs():
            base = value.debugName().rsplit(".", 1)[0]
            if base in sources and base not in found and value.type().kind() == "TensorType":
                found[base] = value
    if not found:
        return []
    exposed = list(found.items())
    ret = graph.return_node()
    original = ret.input()
    kinds = [original.type(), *(torch._C.TensorType.get() for _ in exposed)]
    pack = graph.create("prim::TupleConstruct", [original, *(v for _, v in exposed)])
    pack.output().setType(torch._C.TupleType(kinds))
    pack.insertBefore(ret)
    ret.replaceInput(0, pack.output())
    return exposed

