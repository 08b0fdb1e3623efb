"""Residual vector quantization (SoundStream, EnCodec) with quantizer dropout.

``K`` codebooks of ``V`` vectors in ``D`` dimensions quantize in turn: codebook ``k`` takes the
nearest vector to what the first ``k`` left over,

    r_0 = x,   i_k = argmin_j || r_k - e_{k, j} ||,   r_{k+1} = r_k - e_{k, i_k},
    x_hat = sum_{k < n} e_{k, i_k},

so the first ``n`` codebooks alone give a coarser ``x_hat``: one model serves ``n = 1..K``
(``n`` tokens per frame). Training draws ``n`` per item (quantizer dropout) and passes the
gradient straight through (``x + (x_hat - x).detach()``) plus a commitment loss
``|| x - sg(x_hat) ||^2``. Codebooks are not trained by gradient: each is an exponential moving
average (``decay``) of the residuals assigned to its vectors (k-means online), and a vector
used less than ``dead_below`` times per batch on average is restarted at a random residual of
the batch. Quantization runs in float32 on one thread inside the codec (a tie between two
distances is broken towards the lower index), so the same input gives the same tokens.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, codebooks: int, size: int, decay: float = 0.99, dead_below: float = 0.05) -> None:
        super().__init__()
        self.dim, self.codebooks, self.size = int(dim), int(codebooks), int(size)
        self.decay, self.dead_below = float(decay), float(dead_below)
        embed = torch.randn(codebooks, size, dim) * 0.1
        self.register_buffer("embed", embed)
        self.register_buffer("ema_count", torch.ones(codebooks, size))
        self.register_buffer("ema_sum", embed.clone())

    def _nearest(self, r: torch.Tensor, k: int) -> torch.Tensor:
        """Indices (``B x T``) of codebook ``k``'s nearest vectors to ``r`` (``B x T x D``)."""
        e = self.embed[k]
        d = (r * r).sum(-1, keepdim=True) - 2 * r @ e.t() + (e * e).sum(-1)
        return d.argmin(-1)

    def forward(self, x: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` (``B x D x T``), codebooks per item ``n`` (``B``) -> ``(x_hat`` straight-through,
        ``tokens`` ``B x K x T`` (entries ``>= n`` are -1), commitment loss)."""
        r = x.transpose(1, 2).detach()  # B x T x D
        out = torch.zeros_like(r)
        tokens = []
        for k in range(self.codebooks):
            active = (n > k).view(-1, 1, 1).to(r.dtype)
            idx = self._nearest(r, k)
            q = self.embed[k][idx]
            if self.training:
                self._update(k, r, idx, active[:, 0, 0])
            out = out + q * active
            r = r - q * active
            tokens.append(torch.where(active[:, :, 0] > 0, idx, torch.full_like(idx, -1)))
        x_hat = out.transpose(1, 2)
        commit = (x - x_hat.detach()).pow(2).mean()
        return x + (x_hat - x).detach(), torch.stack(tokens, 1), commit

    @torch.no_grad()
    def _update(self, k: int, r: torch.Tensor, idx: torch.Tensor, active: torch.Tensor) -> None:
        mask = active.bool()
        if not mask.any():
            return
        rv, iv = r[mask].reshape(-1, self.dim), idx[mask].reshape(-1)
        onehot = torch.zeros(iv.numel(), self.size, device=r.device, dtype=r.dtype)
        onehot.scatter_(1, iv[:, None], 1.0)
        count, total = onehot.sum(0), onehot.t() @ rv
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(count)
            torch.distributed.all_reduce(total)
        self.ema_count[k].mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum[k].mul_(self.decay).add_(total, alpha=1 - self.decay)
        self.embed[k].copy_(self.ema_sum[k] / self.ema_count[k].clamp_min(1e-5)[:, None])
        dead = self.ema_count[k] < self.dead_below
        if dead.any():  # restart unused vectors at residuals of this batch
            pick = torch.randint(0, rv.shape[0], (int(dead.sum()),), device=r.device)
            self.embed[k][dead] = rv[pick]
            self.ema_sum[k][dead] = rv[pick]
            self.ema_count[k][dead] = 1.0

    def quantize(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """Tokens (``1 x n x T``, int64) of ``x`` (``1 x D x T``) with the first ``n`` codebooks."""
        r = x.transpose(1, 2)
        tokens = []
        for k in range(n):
            idx = self._nearest(r, k)
            r = r - self.embed[k][idx]
            tokens.append(idx)
        return torch.stack(tokens, 1)

    def dequantize(self, tokens: torch.Tensor) -> torch.Tensor:
        """``x_hat`` (``B x D x T``) from tokens (``B x n x T``, ``n <= K``)."""
        out = torch.zeros(tokens.shape[0], tokens.shape[2], self.dim, dtype=self.embed.dtype, device=tokens.device)
        for k in range(tokens.shape[1]):
            out = out + self.embed[k][tokens[:, k]]
        return out.transpose(1, 2)
