"""Categorical prior from logits, for VQ / RVQ token indices.

A learned token model (e.g. an autoregressive transformer over RVQ codes) outputs logits
``... x V``; ``P(x) = softmax(logits)[x]``. Logits are first rounded to a grid of
``1 / logit_resolution`` so that tiny floating-point differences between machines or thread
counts rarely change the table, then turned into integer tables row by row in float64.
Tokens must lie in ``0 .. V-1``; anything else is a :class:`ValueError`, not an escape,
because a token outside the codebook has no meaning.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import torch

from ncodec.entropy.prior import check_shape
from ncodec.entropy.quantization import as_numpy
from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.tables import decode_rows, encode_rows, quantize_pmf, rows_bits


class CategoricalPrior:
    """Tokens in ``0..V-1`` under per-element logits with a trailing axis of size V."""

    def __init__(self, logit_resolution: float = 1024.0) -> None:
        self.logit_resolution = float(logit_resolution)

    @staticmethod
    def likelihood(tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Differentiable ``P(tokens)`` (use ``-log2`` of it as the rate in training)."""
        return torch.softmax(logits, dim=-1).gather(-1, tokens.long().unsqueeze(-1)).squeeze(-1)

    def _prepare(self, logits) -> tuple[tuple[int, ...], np.ndarray]:
        lg = as_numpy(logits).astype(np.float64)
        if lg.ndim < 1 or lg.shape[-1] < 2:
            raise ValueError("logits need a trailing vocabulary axis of size >= 2")
        lg = np.rint(np.clip(lg, -1e6, 1e6) * self.logit_resolution) / self.logit_resolution
        return lg.shape[:-1], lg.reshape(-1, lg.shape[-1])

    def _row_fn(self, lg: np.ndarray):
        def fn(a: int, b: int):
            p = scipy.special.softmax(lg[a:b], axis=-1)
            # the escape column is never used for tokens: give it (almost) no mass
            return quantize_pmf(np.concatenate([p, np.zeros((b - a, 1))], -1)), np.zeros(b - a, dtype=np.int64)
        return fn

    def _tokens(self, tokens, shape, vocab) -> np.ndarray:
        x = np.asarray(tokens, dtype=np.int64)
        if x.shape != shape:
            raise ValueError(f"tokens shape {x.shape} != logits shape {shape} (without the vocabulary axis)")
        if x.size and (x.min() < 0 or x.max() >= vocab):
            raise ValueError(f"token outside 0..{vocab - 1}")
        return x.reshape(-1)

    def encode(self, enc: Encoder, tokens: np.ndarray, logits) -> None:
        shape, lg = self._prepare(logits)
        x = self._tokens(tokens, shape, lg.shape[1])
        encode_rows(enc, x, self._row_fn(lg), x.size, lg.shape[1] + 1)

    def decode(self, dec: Decoder, logits, *, shape=None) -> np.ndarray:
        fixed, lg = self._prepare(logits)
        check_shape(shape, fixed, "logits")
        shape = fixed
        out = decode_rows(dec, self._row_fn(lg), lg.shape[0], lg.shape[1] + 1)
        return out.reshape(shape)

    def bits(self, tokens: np.ndarray, logits) -> float:
        shape, lg = self._prepare(logits)
        x = self._tokens(tokens, shape, lg.shape[1])
        return rows_bits(x, self._row_fn(lg), x.size, lg.shape[1] + 1)

    def exact_bits(self, tokens: np.ndarray, logits) -> float:
        lg = as_numpy(logits).astype(np.float64)
        lp = scipy.special.log_softmax(lg.reshape(-1, lg.shape[-1]), axis=-1)
        x = np.asarray(tokens, dtype=np.int64).reshape(-1)
        return float(-np.sum(lp[np.arange(x.size), x]) / np.log(2))
