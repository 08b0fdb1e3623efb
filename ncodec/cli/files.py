"""Safe file output for the CLI: never half-written, never silently overwritten."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ncodec.atomic import publish
from ncodec.errors import NcodecError


class OutputExistsError(NcodecError):
    """The output path exists and --force was not given."""


def check_output(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
    if path.exists() and path.is_dir():
        raise OutputExistsError(f"{path} is a directory")
    if not path.parent.exists():
        raise NcodecError(f"output directory {path.parent} does not exist")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_bytes(path: Path, limit: int = 1 << 34) -> bytes:
    if not path.exists():
        raise NcodecError(f"{path} does not exist")
    if path.is_dir():
        raise NcodecError(f"{path} is a directory, not a file")
    size = path.stat().st_size
    if size > limit:
        raise NcodecError(f"{path} is {size} bytes, larger than ncodec reads ({limit})")
    return path.read_bytes()
