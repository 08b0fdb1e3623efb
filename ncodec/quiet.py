"""Warnings ncodec's users cannot act on, filtered in the CLI and in its worker processes."""

from __future__ import annotations

import warnings


def silence_known_warnings() -> None:
    """Ignore torch 2.14's ``torch.jit.script`` deprecation, raised on import by compressai's
    dependencies (torch_geometric decorates classes with it): noise on every run, not the user's
    to fix. Spawned worker processes start with fresh filters, so they call this too."""
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
