"""A learned causal prior over residual-VQ tokens, for entropy coding them.

Tokens ``i_{t,k}`` (frame ``t``, codebook ``k``) are coded frame by frame and, within a frame,
codebook by codebook, each under

    P(i_{t,k} | all tokens of frames < t, i_{t,<k}) = softmax_j( <u_{t,k}, e_{k,j}> / sqrt(D) + b_{k,j} )

where ``e_{k,j}`` are the quantizer's own codebook vectors (tied: the prior adds no embedding
tables), and the query ``u_{t,k} = MLP(h_t + W p_{t,k} + c_k)`` mixes

- ``h_t``: a GRU over frames fed ``W' x_hat_{t-1}`` (the previous frame's full reconstruction);
- ``p_{t,k} = sum_{j<k} e_{j,i_{t,j}}``: this frame's reconstruction so far (what residual
  codebook ``k`` still has to explain);
- ``c_k``: a learned vector per codebook.

Training runs all ``(t, k)`` at once (teacher forcing, :meth:`TokenPrior.logits`); coding runs
the same maths one frame at a time (:meth:`TokenPrior.start`, :meth:`TokenPrior.frame_logits`,
:meth:`TokenPrior.advance`) on one thread, in the same order in the encoder and the decoder, so
both see bit-identical logits. Symbols go through :class:`~ncodec.entropy.CategoricalPrior`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TokenPrior(nn.Module):
    def __init__(self, codebooks: int, size: int, dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.codebooks, self.size, self.dim, self.hidden = int(codebooks), int(size), int(dim), int(hidden)
        self.frame_in = nn.Linear(dim, hidden)
        self.partial_in = nn.Linear(dim, hidden)
        self.codebook_vec = nn.Parameter(torch.zeros(codebooks, hidden))
        self.time = nn.GRU(hidden, hidden, batch_first=True)
        self.query = nn.Sequential(nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.bias = nn.Parameter(torch.zeros(codebooks, size))

    def _logits(self, ctx: torch.Tensor, embed: torch.Tensor, k: slice | int) -> torch.Tensor:
        u = self.query(ctx)
        e = embed[k]
        if isinstance(k, int):
            return u @ e.t() / math.sqrt(self.dim) + self.bias[k]
        return torch.einsum("...kd,kvd->...kv", u, e) / math.sqrt(self.dim) + self.bias[k]

    def logits(self, tokens: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``B x T x n x V`` for tokens ``B x n x T`` (``n <= K`` codebooks
        used; entries < 0 are unused codebooks and treated as contributing nothing)."""
        b, n, t = tokens.shape
        vecs = torch.stack([torch.where((tokens[:, k] >= 0)[..., None], embed[k][tokens[:, k].clamp_min(0)],
                                        torch.zeros((), dtype=embed.dtype)) for k in range(n)], 2)  # B T n D
        partial = torch.cumsum(vecs, 2) - vecs  # sum over j < k
        frame = vecs.sum(2)  # B T D
        prev = torch.cat([frame.new_zeros(b, 1, self.dim), frame[:, :-1]], 1)
        h, _ = self.time(self.frame_in(prev))
        ctx = h[:, :, None] + self.partial_in(partial) + self.codebook_vec[:n]
        return self._logits(ctx, embed, slice(0, n))

    # ------------------------------------------------------------------ coding, one frame at a time
    def start(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The state before the first frame: ``(GRU state, h_0)``."""
        dtype = self.bias.dtype
        h0 = torch.zeros(1, 1, self.hidden, dtype=dtype)
        out, state = self.time(self.frame_in(torch.zeros(1, 1, self.dim, dtype=dtype)), h0)
        return state, out[0, 0]

    def frame_logits(self, h: torch.Tensor, partial: torch.Tensor, k: int, embed: torch.Tensor) -> torch.Tensor:
        """Logits (``V``) of codebook ``k`` given ``h_t`` and this frame's partial reconstruction."""
        return self._logits(h + self.partial_in(partial) + self.codebook_vec[k], embed, k)

    def advance(self, state: torch.Tensor, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feed a finished frame's reconstruction (``D``): ``(state, h_{t+1})``."""
        out, state = self.time(self.frame_in(frame)[None, None], state)
        return state, out[0, 0]
