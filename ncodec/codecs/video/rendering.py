"""Run a fitted NeRV / HNeRV decoder to produce 8-bit YUV 4:2:0 frames, reproducibly.

Frames are rendered one at a time (batch 1, so no batch composition can change a result) on
the CPU inside :func:`~ncodec.determinism.deterministic` (one thread): the same weights
and embeddings give the same bytes whatever the caller's thread settings. Output samples are
``round(255 * x)`` clamped to 0..255; chroma is the 2x2 mean of the model's full-resolution
U and V, cropped to ``ceil(H/2) x ceil(W/2)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ncodec.determinism import deterministic
from ncodec.codecs.video.config import INRConfig
from ncodec.codecs.video.fitting import to_yuv420
from ncodec.codecs.video.hnerv import HNeRVDecoder
from ncodec.codecs.video.nerv import NeRV


def build_decoder(cfg: INRConfig) -> nn.Module:
    """The transmitted part of the model, randomly initialised (weights come from the stream)."""
    return NeRV(cfg) if cfg.arch == "nerv" else HNeRVDecoder(cfg)


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return torch.round(x * 255.0).clamp_(0, 255).to(torch.uint8).numpy()


def render(cfg: INRConfig, decoder: nn.Module, embeddings: Optional[torch.Tensor] = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All frames as uint8 planes ``(Y T x H x W, U, V T x Hc x Wc)``."""
    t, h, w = cfg.frames, cfg.height, cfg.width
    hc, wc = (h + 1) // 2, (w + 1) // 2
    y = np.empty((t, h, w), np.uint8)
    u = np.empty((t, hc, wc), np.uint8)
    v = np.empty((t, hc, wc), np.uint8)
    decoder = decoder.cpu().eval()
    with deterministic():
        for i in range(t):
            x = embeddings[i:i + 1] if embeddings is not None else torch.tensor([i])
            py, puv = to_yuv420(decoder(x), h, w)
            y[i] = _to_u8(py[0, 0])
            u[i], v[i] = _to_u8(puv[0, 0]), _to_u8(puv[0, 1])
    return y, u, v
