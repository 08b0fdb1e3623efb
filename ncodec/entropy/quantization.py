"""Quantization for training (differentiable proxies) and for coding (rounding).

* ``noise``: ``y + u``, ``u ~ U(-1/2, 1/2)`` -- the additive-noise proxy of Ballé et al.,
  whose density is the model's density convolved with a unit box.
* ``ste``: ``round(y)`` forward, identity gradient backward (straight-through).
* ``round``: plain rounding (evaluation and coding).

With ``means`` the residual ``y - means`` is quantized and ``means`` added back, so the
decoder reconstructs ``round(y - means) + means`` exactly from the integer symbols.
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import torch

Mode = Literal["noise", "ste", "round"]


def quantize(y: torch.Tensor, mode: Mode = "round", means: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Quantize ``y`` (optionally around ``means``) with a training proxy or rounding."""
    r = y if means is None else y - means
    if mode == "noise":
        r = r + torch.empty_like(r).uniform_(-0.5, 0.5)
    elif mode == "ste":
        return ste_round(y, means)
    elif mode == "round":
        r = torch.round(r)
    else:
        raise ValueError(f"unknown quantization mode {mode!r} (noise, ste, round)")
    return r if means is None else r + means


def ste_round(v: torch.Tensor, centre: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``round(v - centre) + centre`` forward, identity gradient backward (straight-through)."""
    c = centre if centre is not None else torch.zeros_like(v)
    return v + (torch.round(v - c) + c - v).detach()


def as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def to_symbols(y: torch.Tensor | np.ndarray, means: torch.Tensor | np.ndarray | None = None) -> np.ndarray:
    """Integer symbols ``round(y - means)`` as int64 numpy (the entropy layer's input)."""
    y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if means is not None:
        m = means.detach().cpu().numpy() if isinstance(means, torch.Tensor) else np.asarray(means)
        y = y - m
    return np.rint(y).astype(np.int64)


def from_symbols(symbols: np.ndarray, means: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Inverse of :func:`to_symbols`: ``symbols + means`` as a float32 tensor."""
    out = torch.from_numpy(np.asarray(symbols, dtype=np.float32))
    if means is not None:
        m = means if isinstance(means, torch.Tensor) else torch.from_numpy(np.asarray(means, dtype=np.float32))
        out = out + m.to(out.dtype)
    return out
