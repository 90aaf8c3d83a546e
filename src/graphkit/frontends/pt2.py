"""PyTorch `ExportedProgram` archives (`.pt2`, from torch.export.save), loaded without a pickle.

    graphkit.load("model.pt2")

A .pt2 is a zip: the graph as JSON (models/model.json), each weight and tensor constant as
raw bytes described by a JSON config, and the example inputs as a pickle. torch.export.load
unpickles that last entry (falling back to weights_only=False), and unpickles any weight or
constant the config marks `use_pickle`, any torchbind or opaque object, and the legacy
`.pt` weight files; the archive may also carry compiled AOTInductor code. So graphkit reads
the archive first and refuses every entry that would be unpickled or run, copies the rest
into a private archive with the example inputs left empty, and only then hands that copy
to torch.export.load. The program goes to ONNX through torch.onnx's dynamo exporter, which
is made for ExportedPrograms.
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import onnx_ir as ir

from graphkit.errors import InputError, MissingDependencyError, UnsafeModelError, first_line
from graphkit.frontends._common import default_names, rename_outputs
from graphkit.frontends._provenance import Provenance, stamp
from graphkit.ir import load_onnx

MAX_ARCHIVE_BYTES = 8 << 30  # uncompressed: what an archive may expand to in memory
MODEL_NAME = "model"  # torch.export.save's name for the one program it writes
# Entries of a torch.export.save archive that are data (paths below the archive's root folder).
DATA_ENTRIES = re.compile(
    r"(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"
    r"|models/\w+\.json|data/weights/weight_\d+|data/weights/\w+_weights_config\.json"
    r"|data/constants/tensor_\d+|data/constants/\w+_constants_config\.json|extra/[\w.-]+)"
)
SAMPLE_INPUTS = re.compile(r"data/sample_inputs/\w+\.pt")  # a pickle: left out of the copy


def load_pt2(path: Path, **options: Any) -> ir.Model:
    """The ExportedProgram in `path` as ONNX, with its example input shapes recorded."""
    if options:
        raise InputError(f"{path}: options {sorted(options)} do not apply to a .pt2 file")
    torch = _import_torch()
    with tempfile.TemporaryDirectory(prefix="graphkit-pt2-") as folder:
        clean = Path(folder) / "program.pt2"
        _copy_without_pickles(path, clean)
        try:
            program = torch.export.load(str(clean))
        except Exception as err:  # torch raises many types for an archive it cannot read
            raise InputError(f"{path}: torch.export.load cannot read it "
                             f"({first_line(err)})") from None
        onnx_path = Path(folder) / "model.onnx"
        _to_onnx(torch, program, onnx_path, path)
        model = load_onnx(onnx_path, in_place=False)  # `folder` is about to go
        ir.external_data.load_to_model(model)
    rename_outputs(model, default_names("output", len(model.graph.outputs)))  # as torch's
    provenance = Provenance("torch", torch.__version__, "torch.onnx-dynamo", torch.__version__,
                            str(path))
    return stamp(model, provenance, _example_shapes(program, model))


def _import_torch():
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch", "loading a .pt2 ExportedProgram") from None
    return torch


def _copy_without_pickles(path: Path, clean: Path) -> None:
    """Copy the archive's data entries to `clean`; refuse any entry that is not data."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"{path}: not a torch.export.save archive ({err})") from None
    with archive:
        entries = _entries(path, archive)
        if f"models/{MODEL_NAME}.json" not in entries:
            raise InputError(f"{path}: no models/{MODEL_NAME}.json: not a torch.export.save "
                             "archive")
        for relative, info in entries.items():
            if relative.endswith(("_weights_config.json", "_constants_config.json")):
                _refuse_pickled_payloads(path, relative, archive.read(info))
        with zipfile.ZipFile(clean, "w", zipfile.ZIP_STORED) as out:
            for relative, info in entries.items():
                # the example inputs, a pickle, go in empty: torch reads that as none
                data = b"" if SAMPLE_INPUTS.fullmatch(relative) else archive.read(info)
                out.writestr(info.filename, data)


def _entries(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The entries by path below the archive's one root folder, each checked to be data."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if sum(info.file_size for info in infos) > MAX_ARCHIVE_BYTES:
        raise InputError(f"{path}: the archive expands to over {MAX_ARCHIVE_BYTES >> 30} GiB")
    roots = {info.filename.split("/", 1)[0] for info in infos}
    if len(roots) != 1:
        raise InputError(f"{path}: not a torch.export.save archive (no single root folder)")
    entries = {}
    for info in infos:
        relative = info.filename.split("/", 1)[-1]
        if not (DATA_ENTRIES.fullmatch(relative) or SAMPLE_INPUTS.fullmatch(relative)):
            raise UnsafeModelError(
                f"{path}: refusing the archive entry '{relative}': graphkit loads only the "
                "JSON graph and raw-byte weights of torch.export.save, never a pickle or "
                "compiled code")
        entries[relative] = info
    return entries


def _refuse_pickled_payloads(path: Path, config_name: str, raw: bytes) -> None:
    """A weight or constant marked use_pickle, or an object constant, would be unpickled."""
    try:
        config = json.loads(raw)["config"]
        items = [(name, entry.get("use_pickle"), entry.get("path_name", ""))
                 for name, entry in config.items()]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{path}: {config_name} is not a payload config") from None
    for name, pickled, file_name in items:
        if pickled or not re.fullmatch(r"(weight|tensor)_\d+", str(file_name)):
            raise UnsafeModelError(
                f"{path}: refusing '{name}' in {config_name}: it is stored as a pickle "
                "(unpickling runs code chosen by whoever made the file)")


def _to_onnx(torch: Any, program: Any, onnx_path: Path, source: Path) -> None:
    from graphkit.frontends.torch import _quiet_exporter, _require_onnxscript

    _require_onnxscript()
    try:
        with _quiet_exporter():
            onnx_program = torch.onnx.export(program, dynamo=True, verbose=False, report=False,
                                             artifacts_dir=str(onnx_path.parent))
            onnx_program.save(str(onnx_path))
    except Exception as err:  # the exporter raises many types; each is the model's problem
        raise InputError(f"{source}: torch.onnx.export of the ExportedProgram failed: "
                         f"{first_line(err)}") from None


def _example_shapes(program: Any, model: ir.Model) -> dict[str, tuple[int, ...]]:
    """The shapes the program was exported with, for the inputs the ONNX graph kept."""
    kept = {value.name for value in model.graph.inputs}
    shapes = {}
    for node in program.graph.nodes:
        value = node.meta.get("val") if node.op == "placeholder" else None
        shape = getattr(value, "shape", None)
        if node.name in kept and shape is not None and all(isinstance(d, int) for d in shape):
            shapes[node.name] = tuple(int(d) for d in shape)
    return shapes
