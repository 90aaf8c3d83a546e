"""Is this path a model file at all? Asked before anything opens it.

Opening a FIFO blocks until some writer appears (forever, for a model path), and a device
such as /dev/zero reads as empty or endless. So a model path must name a regular file,
checked with stat() before open(), and again on the open descriptor in case the path
changed in between. A file's first bytes name the common wrong files (a pickle renamed
.keras, a zip renamed .onnx), so that the message says what the file really is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from graphkit.errors import InputError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_regular_file(path: Path) -> os.stat_result:
    """The file's stat, or InputError saying what `path` is instead of a regular file."""
    try:
        info = os.stat(path)  # follows symlinks: the target is what would be read
    except FileNotFoundError:
        if not path.is_symlink():
            raise InputError(f"{path}: no such file") from None
        target = os.readlink(path)
        raise InputError(f"{path}: a symlink to {target!r}, which does not exist") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a folder, not a model file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: {describe_special(path, info)}, not a model file")
    return info


def open_regular_file(path: Path) -> int:
    """A read-only descriptor of the regular file `path`; the caller closes it.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer, so a
    path swapped for one after the stat() still cannot hang the load."""
    check_regular_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(f"{path}: {describe_special(path, info)}, not a model file")
    return fd


def describe_special(path: Path, info: os.stat_result) -> str:
    """'is a FIFO (named pipe)', or 'is a symlink to /dev/zero, a character device'."""
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
    if path.is_symlink():
        return f"is a symlink to {os.path.realpath(path)}, {kind}"
    return f"is {kind}"


def read_head(path: Path, size: int = 8) -> bytes:
    """The first `size` bytes of the regular file `path`."""
    fd = open_regular_file(path)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def sniff(head: bytes) -> str | None:
    """Name the common wrong files by their first bytes, so the user knows what to do."""
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a PyTorch .pt checkpoint or Keras .keras file?)"
    if head[4:8] == b"TFL3":
        return "a TFLite flatbuffer; give it the .tflite suffix"
    if head.startswith(HDF5_SIGNATURE):
        return "an HDF5 file (a Keras .h5 model?); give it the .h5 suffix"
    if head[:1] == b"\x80" and head[1:2] in {b"\x02", b"\x03", b"\x04", b"\x05"}:
        return "a Python pickle, which graphkit never loads"
    return None


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
