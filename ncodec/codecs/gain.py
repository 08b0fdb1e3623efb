"""Gain units for variable rate, shared by the learned codec families (Cui et al., "Asymmetric Gained Deep Image Compression", 2021).

One model covers many rates: ``L`` learned per-channel gain vectors ``g_l`` (applied to the
latent before quantization) and inverse gains ``g'_l`` (applied after), one pair per
training Lagrangian ``lambda_l``. A continuous quality ``q`` in ``[0, 1]`` picks the position
``t = q (L - 1)`` between levels ``i = floor(t)`` and ``i + 1`` and interpolates
geometrically: ``g = g_i^(1 - f) g_(i+1)^f`` with ``f = t - i``, which keeps the rate
monotone in ``q`` between the trained levels.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class GainUnits(nn.Module):
    def __init__(self, channels: int, lambdas: tuple[float, ...], spatial_dims: int = 2) -> None:
        super().__init__()
        self.lambdas = tuple(float(x) for x in lambdas)
        self.spatial_dims = int(spatial_dims)  # 2 for images (H, W), 1 for audio (T)
        levels = len(self.lambdas)
        # log-parametrised so gains stay positive; initialised to spread rates across levels
        init = torch.linspace(-1.0, 1.0, levels)[:, None].repeat(1, channels) * 0.5 * math.log(4.0)
        self.log_gain = nn.Parameter(init.clone())
        self.log_inv_gain = nn.Parameter(-init.clone())

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    def _interp(self, table: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        t = torch.clamp(q, 0.0, 1.0) * (self.levels - 1)
        i = torch.clamp(torch.floor(t), max=self.levels - 2).long()
        f = (t - i.to(t.dtype)).unsqueeze(-1)
        return torch.exp(table[i] * (1 - f) + table[i + 1] * f)  # (B, C)

    def gain(self, q: torch.Tensor) -> torch.Tensor:
        """``B x C x 1 ...`` (one trailing 1 per spatial dimension) for latents ``B x C x ...``."""
        return self._interp(self.log_gain, q)[(...,) + (None,) * self.spatial_dims]

    def inverse_gain(self, q: torch.Tensor) -> torch.Tensor:
        return self._interp(self.log_inv_gain, q)[(...,) + (None,) * self.spatial_dims]

    def quality_tensor(self, q, batch: int) -> torch.Tensor:
        """Quality as a per-item tensor on the gains' device (a number is repeated ``batch`` times)."""
        q = torch.as_tensor(q, dtype=torch.float32, device=self.log_gain.device)
        return q.expand(batch) if q.dim() == 0 else q

    def lmbda(self, q: torch.Tensor) -> torch.Tensor:
        """The Lagrangian that quality ``q`` trains with (geometric interpolation of the levels)."""
        logs = torch.log(torch.tensor(self.lambdas, dtype=q.dtype, device=q.device))
        t = torch.clamp(q, 0.0, 1.0) * (self.levels - 1)
        i = torch.clamp(torch.floor(t), max=self.levels - 2).long()
        f = t - i.to(t.dtype)
        return torch.exp(logs[i] * (1 - f) + logs[i + 1] * f)

