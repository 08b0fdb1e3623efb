"""Deterministic torch execution for decoders: the same bytes give the same output everywhere."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """One intra-op thread, no autograd; the previous thread count is restored.

    One thread makes float reductions run in one fixed order, so a decoder's output does not
    depend on the machine's core count or on ``torch.set_num_threads``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(threads)
