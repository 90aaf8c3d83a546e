"""Where graphkit writes: output paths checked before any work, and files published into place
with the permissions the user's umask gives.

Every writer stages its file (tempfile.mkstemp makes it 0600, a staging folder hides it)
and renames it into place only once it is complete; `publish` is that last step for all of
them, so every artifact gets the same mode as any other file the user creates.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from graphkit.errors import InputError


def check_output_path(path: str | os.PathLike, suffixes: Sequence[str], what: str) -> Path:
    """`path` as a Path, if `what` ("the ort artifact", ...) can be written there; else
    InputError.

    Called before any work, so a wrong name costs the user nothing and leaves no file."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        endings = " or ".join(suffixes)
        raise InputError(f"{path}: {what} is a {endings} file; give an output path "
                         f"ending in {endings}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name to write to")
    if not path.parent.resolve().is_dir():
        raise InputError(f"{path}: output folder {str(path.parent)!r} does not exist")
    return path


def umask_mode() -> int:
    """The mode a new file gets here: 0666 less the process's umask."""
    mask = os.umask(0o022)  # the only way to read the umask is to set it; put it back at once
    os.umask(mask)
    return 0o666 & ~mask


def publish(staged: str | os.PathLike, final: str | os.PathLike) -> None:
    """Give the finished staging file the umask's mode and rename it into place."""
    os.chmod(staged, umask_mode())
    os.replace(staged, final)


@contextlib.contextmanager
def staged_file(output: Path) -> Iterator[str]:
    """A hidden file beside `output` (the same file system, so the last step is a rename) for
    a writer to fill inside the block: published into place when the block ends, removed when
    it raises. An OSError becomes an InputError naming `output`."""
    handle, temp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(handle)
    try:
        yield temp
        publish(temp, output)
    except OSError as err:
        raise InputError(f"{output}: cannot write ({err.strerror})") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
