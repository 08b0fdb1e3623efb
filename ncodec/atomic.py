"""Publishing a finished temporary file under its final name."""

from __future__ import annotations

import os


def publish(tmp: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Give ``tmp`` the permissions a new file gets here (``mkstemp`` makes it 0600), then rename
    it onto ``dest`` in one step, so readers see the old file or the whole new one."""
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, dest)
