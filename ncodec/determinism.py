"""Deterministic torch execution for decoders: the same bytes give the same output everywhere.

Two rules. :func:`deterministic` runs a decoder's torch work on one thread, so reductions run in
one order whatever the core count. And what selects entropy-coding tables (a hyperprior's
``h_s``, a context model, a token prior) runs in float64 through :func:`exact`: float32
convolutions differ in their last bits between CPUs (oneDNN and MKL pick kernels by instruction
set and cache size; measured here: AVX-512 vs AVX2 kernels changed a float32 ``h_s`` enough to
flip table indexes and wreck two of four golden image streams), while float64's differences,
about 1e-16 relative, land on a table boundary with negligible probability.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Iterator

import torch
from torch import nn

_EXACT = "_ncodec_float64_copy"


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


def exact(module: nn.Module) -> nn.Module:
    """A float64 copy of ``module`` (eval mode) for computations a decoder must reproduce exactly;
    kept on the module and made again when its parameters or buffers change."""
    key = tuple((t.data_ptr(), t._version) for t in (*module.parameters(), *module.buffers()))
    cached = module.__dict__.get(_EXACT)
    if cached is None or cached[0] != key:
        held = module.__dict__.pop(_EXACT, None)
        try:
            twin = copy.deepcopy(module).double().eval()
        finally:
            if held is not None:
                module.__dict__[_EXACT] = held
        for p in twin.parameters():
            p.requires_grad_(False)
        cached = (key, twin)
        module.__dict__[_EXACT] = cached  # plain attribute: not a registered submodule, not in state_dict
    return cached[1]
