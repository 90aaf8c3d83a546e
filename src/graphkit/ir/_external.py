"""Does every external-data reference stay in the model's folder and point at enough bytes?

Known attacks this refuses, each with a test in tests/ir/test_external_data.py:
- a location that climbs out of the folder or is absolute (CVE-2022-25882, CVE-2024-27318);
- a location that is a symlink pointing out of the folder (CVE-2026-27489);
- unknown keys in an external_data entry (CVE-2026-34445);
- on save, a data file that would be written outside the output's folder (CVE-2025-51480).
A file with several hard links is refused as well: onnx-ir refuses it when it maps the data,
and a hard link is how a file from elsewhere can appear inside the folder.

The checks run before any tensor is read, so a bad model fails at load with a message that
names the tensor, not later inside a pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import onnx
import onnx_ir as ir

from graphkit.errors import InputError, UnsafeModelError

# The keys the ONNX spec defines for TensorProto.external_data.
KNOWN_KEYS = frozenset({"location", "offset", "length", "checksum"})


def _is_external(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == onnx.TensorProto.EXTERNAL


def check_external_data(
    tensors: Iterable[onnx.TensorProto],
    model_dir: str | os.PathLike | None,
    *,
    origin: str = "<model>",
) -> None:
    """Raise UnsafeModelError / InputError if any external-data reference is unsafe or short.

    `tensors`: every TensorProto of the model (WellFormed.tensors() collects them).

    model_dir=None (a model given as bytes or a proto) refuses external data outright: there is
    no folder to keep it in, and resolving against the working directory reads files the model
    does not own.
    """
    root = Path(model_dir).resolve() if model_dir is not None else None
    sizes: dict[Path, int] = {}  # one stat per data file, however many tensors it holds
    for tensor in tensors:
        if not _is_external(tensor):
            continue
        what = f"{origin}: tensor {tensor.name!r} external data"
        entries = _entries(tensor, what)
        if root is None:
            raise InputError(
                f"{what}: the model keeps tensors in external files but was given without its "
                "folder; load it from its .onnx file instead"
            )
        path = resolve_inside(root, entries["location"], what=what)
        if path not in sizes:
            sizes[path] = _data_file_size(path, entries["location"], what)
        _check_extent(tensor, entries, sizes[path], what)


def _entries(tensor: onnx.TensorProto, what: str) -> dict[str, str]:
    entries = {entry.key: entry.value for entry in tensor.external_data}
    unknown = sorted(set(entries) - KNOWN_KEYS)
    if unknown:
        raise UnsafeModelError(
            f"{what}: unknown external_data key(s) {unknown}; allowed keys are {sorted(KNOWN_KEYS)}"
        )
    if not entries.get("location"):
        raise UnsafeModelError(f"{what}: no location given")
    return entries


def resolve_inside(root: Path, location: str, *, what: str) -> Path:
    """Resolve `location` against `root`, refusing anything that ends up outside it."""
    if os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location:
        raise UnsafeModelError(f"{what}: location {location!r} is absolute; it must be relative")
    resolved = (
        root / location
    ).resolve()  # follows symlinks, so a link out of the folder is caught
    if resolved != root and root not in resolved.parents:
        kind = "a symlink that points" if _has_symlink(root, location) else "a path that leads"
        raise UnsafeModelError(
            f"{what}: location {location!r} is {kind} outside the model's folder {str(root)!r}"
        )
    return resolved


def _has_symlink(root: Path, location: str) -> bool:
    path = root
    for part in Path(location).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _data_file_size(path: Path, location: str, what: str) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError(f"{what}: file {location!r} is missing beside the model") from None
    except OSError as err:
        raise InputError(f"{what}: cannot read {location!r} ({err.strerror})") from None
    if not path.is_file():
        raise InputError(f"{what}: {location!r} is not a regular file")
    if stat.st_nlink > 1:
        raise UnsafeModelError(
            f"{what}: {location!r} has {stat.st_nlink} hard links; refusing, because a hard "
            "link can bring a file from outside the model's folder inside it"
        )
    return stat.st_size


def _check_extent(tensor: onnx.TensorProto, entries: dict[str, str], size: int, what: str) -> None:
    offset = _non_negative_int(entries.get("offset", "0"), "offset", what)
    expected = expected_nbytes(tensor)
    length = expected
    if "length" in entries:
        length = _non_negative_int(entries["length"], "length", what)
        if expected is not None and length != expected:
            raise InputError(
                f"{what}: length {length} does not match its dtype and shape ({expected} bytes)"
            )
    end = offset + (length or 0)
    if end > size:
        raise InputError(
            f"{what}: {entries['location']!r} is too short: needs bytes {offset}..{end}, "
            f"the file has {size}"
        )


def _non_negative_int(text: str, key: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{what}: {key} {text!r} is not an integer") from None
    if value < 0:
        raise InputError(f"{what}: {key} {value} is negative")
    return value


def expected_nbytes(tensor: onnx.TensorProto) -> int | None:
    """Bytes the tensor's data takes, from dtype and shape; None where that is not fixed."""
    try:
        bits = ir.DataType(tensor.data_type).bitwidth
    except (ValueError, TypeError):  # strings and unknown types have no fixed width
        return None
    return math.ceil(math.prod(tensor.dims) * bits / 8)
