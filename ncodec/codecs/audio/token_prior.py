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
the same maths one token at a time in float64 numpy (:class:`StepPrior`: a few matrix-vector
products per token, without torch's per-call overhead), in the same order in the encoder and
the decoder, so both see the same logits. Symbols go through :class:`~ncodec.entropy.CategoricalPrior`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
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

    def _logits(self, ctx: torch.Tensor, embed: torch.Tensor, k: slice) -> torch.Tensor:
        return torch.einsum("...kd,kvd->...kv", self.query(ctx), embed[k]) / math.sqrt(self.dim) + self.bias[k]

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



def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


class StepPrior:
    """:class:`TokenPrior`'s maths one token at a time, in float64 numpy (the coding path).

    ``state`` is the GRU's hidden vector ``h_t``; :meth:`frame_logits` gives codebook ``k``'s
    logits from ``h_t`` and the frame's partial reconstruction, :meth:`advance` feeds a finished
    frame. The GRU step is PyTorch's: ``r, z = sigmoid(W_i[r,z] x + b_i + W_h[r,z] h + b_h)``,
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``; GELU is the exact
    ``x Phi(x)``.
    """

    def __init__(self, prior: TokenPrior, embed: torch.Tensor) -> None:
        self.embed = _np(embed)  # K x V x D
        self.scale = 1.0 / math.sqrt(prior.dim)
        self.w_frame, self.b_frame = _np(prior.frame_in.weight), _np(prior.frame_in.bias)
        self.w_partial, self.b_partial = _np(prior.partial_in.weight), _np(prior.partial_in.bias)
        self.codebook_vec, self.bias = _np(prior.codebook_vec), _np(prior.bias)
        self.w_ih, self.w_hh = _np(prior.time.weight_ih_l0), _np(prior.time.weight_hh_l0)
        self.b_ih, self.b_hh = _np(prior.time.bias_ih_l0), _np(prior.time.bias_hh_l0)
        self.w1, self.b1 = _np(prior.query[1].weight), _np(prior.query[1].bias)
        self.w2, self.b2 = _np(prior.query[3].weight), _np(prior.query[3].bias)
        self.hidden = prior.hidden

    @staticmethod
    def _gelu(x: np.ndarray) -> np.ndarray:
        return 0.5 * x * (1.0 + scipy.special.erf(x / math.sqrt(2.0)))

    def _gru(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        H = self.hidden
        gi = self.w_ih @ x + self.b_ih
        gh = self.w_hh @ h + self.b_hh
        r = scipy.special.expit(gi[:H] + gh[:H])
        z = scipy.special.expit(gi[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
        return (1.0 - z) * n + z * h

    def start(self) -> np.ndarray:
        return self.advance(np.zeros(self.hidden), np.zeros(self.embed.shape[2]))

    def advance(self, h: np.ndarray, frame: np.ndarray) -> np.ndarray:
        return self._gru(self.w_frame @ frame + self.b_frame, h)

    def frame_logits(self, h: np.ndarray, partial: np.ndarray, k: int) -> np.ndarray:
        ctx = h + self.w_partial @ partial + self.b_partial + self.codebook_vec[k]
        u = self.w2 @ self._gelu(self.w1 @ self._gelu(ctx) + self.b1) + self.b2
        return self.embed[k] @ u * self.scale + self.bias[k]
