"""NeRV (Chen et al. 2021): a frame index in, a frame out.

``t`` (frame index scaled to ``[0, 1]``) -> positional encoding
``[sin(b^0 pi t), cos(b^0 pi t), ..., sin(b^(L-1) pi t), cos(b^(L-1) pi t)]`` with ``b = 1.25``
-> MLP (``2L -> mlp -> C0 h0 w0``, GELU) -> ``C0 x h0 x w0`` grid -> upsampling trunk
(:mod:`ncodec.codecs.video.blocks`). Everything the decoder needs is the weights; no per-frame data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ncodec.codecs.video.blocks import Trunk
from ncodec.codecs.video.config import INRConfig

PE_BASE = 1.25


def positional_encoding(t: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``B`` times in [0, 1] -> ``B x 2L`` features."""
    freqs = (PE_BASE ** torch.arange(frequencies, dtype=torch.float32)) * math.pi
    a = t.float().reshape(-1, 1) * freqs.reshape(1, -1)
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class NeRV(nn.Module):
    arch = "nerv"
    has_embeddings = False

    def __init__(self, cfg: INRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        cells = cfg.grid[0] * cfg.grid[1]
        self.fc1 = nn.Linear(2 * cfg.embed_dim, cfg.mlp_dim)
        self.fc2 = nn.Linear(cfg.mlp_dim, cfg.channels[0] * cells)
        self.trunk = Trunk(cfg)

    def times(self, index: torch.Tensor) -> torch.Tensor:
        return index.float() / max(self.cfg.frames - 1, 1)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """Frame indices (``B``) -> ``B x 3 x H' x W'`` YUV in [0, 1] (padded size)."""
        h = positional_encoding(self.times(index), self.cfg.embed_dim)
        h = F.gelu(self.fc2(F.gelu(self.fc1(h))))
        h = h.view(-1, self.cfg.channels[0], *self.cfg.grid)
        return self.trunk(h)
