"""Paths, extensions, error wrapping and atomic outputs shared by the media readers and writers."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union


from ncodec.atomic import publish
from ncodec.errors import MediaError


PathLike = Union[str, os.PathLike]


def extension(path: PathLike) -> str:
    return Path(path).suffix.lower()


def existing_file(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"file not found: {str(p)!r}")
    if not p.is_file():
        raise MediaError(f"not a regular file: {str(p)!r}")
    return p


def wrap_error(path: PathLike, what: str, exc: BaseException) -> MediaError:
    msg = str(exc).strip() or type(exc).__name__
    return MediaError(f"cannot {what} {str(path)!r}: {msg}")


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds."""
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    if not directory.is_dir():
        raise MediaError(f"cannot write {str(dest)!r}: directory {str(directory)!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{dest.name}.", suffix=".tmp" + dest.suffix)
    except OSError as exc:
        raise wrap_error(dest, "write", exc) from None
    os.close(fd)
    try:
        yield tmp
        publish(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_write_ext(path: PathLike, table: dict, kind: str) -> str:
    ext = extension(path)
    if ext not in table:
        raise MediaError(f"cannot write {kind} as {ext or '(no extension)'!r}: "
                         f"supported {kind} outputs are {' '.join(sorted(table))}")
    return ext
