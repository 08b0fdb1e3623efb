"""Factorized prior: one learned, non-parametric density per channel (Ballé et al. 2018).

Training reuses compressai's :class:`~compressai.entropy_models.EntropyBottleneck`, whose
cumulative ``c(x) = sigmoid(f_K(...f_1(x)))`` is a monotone network per channel
(``f_i(x) = h_i(softplus(H_i) x + b_i)``, ``h_i(x) = x + tanh(a_i) tanh(x)``), and whose
auxiliary loss fits the ``tail_mass`` quantiles. Symbols are ``round(y - median_c)``,
CompressAI's convention, so reconstructions match compressai exactly.

Coding tables are derived straight from the current parameters, in float64 numpy with a
fixed evaluation order (no BLAS), whenever the parameters have changed since the last
derivation (tracked by torch's in-place version counters): there is no ``update()`` step
to forget. The PMF of symbol ``k`` of channel ``c`` is
``c(k + median + 1/2) - c(k + median - 1/2)`` over ``[floor(q_low - median), ceil(q_high - median)]``;
values outside are escape-coded exactly.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck
from torch import nn

from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.tables import TableSet, pmf_with_escape

MAX_TABLE_RADIUS = 1 << 16


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class FactorizedPrior(nn.Module):
    """Per-channel learned density over ``channels`` channels (axis 1 of N x C x ...)."""

    def __init__(self, channels: int, *, filters: tuple[int, ...] = (3, 3, 3, 3), tail_mass: float = 1e-9) -> None:
        super().__init__()
        self.bottleneck = EntropyBottleneck(channels, filters=filters, tail_mass=tail_mass)
        self.channels = int(channels)
        self._cache_key: Optional[tuple] = None
        self._tables: Optional[TableSet] = None

    # ---------------------------------------------------------------- training
    def forward(self, y: torch.Tensor, training: Optional[bool] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y_hat, likelihoods)``: noisy ``y`` in training, ``round(y - median) + median`` otherwise."""
        return self.bottleneck(y, training=training)

    def aux_loss(self) -> torch.Tensor:
        """Loss that fits the quantiles that bound the coding tables (minimise it alongside)."""
        return self.bottleneck.loss()

    @property
    def medians(self) -> torch.Tensor:
        return self.bottleneck.quantiles[:, 0, 1].detach()

    # ---------------------------------------------------------------- tables
    def _params_np(self) -> tuple[list, list, list, np.ndarray]:
        eb = self.bottleneck
        mats = [m.detach().cpu().double().numpy() for m in eb.matrices]
        biases = [b.detach().cpu().double().numpy() for b in eb.biases]
        factors = [f.detach().cpu().double().numpy() for f in eb.factors]
        return mats, biases, factors, eb.quantiles.detach().cpu().double().numpy()[:, 0, :]

    def _logits_cumulative_np(self, x: np.ndarray, mats, biases, factors) -> np.ndarray:
        """``x``: C x 1 x N float64 -> C x 1 x N, same maths as compressai's, fixed order."""
        logits = x
        for i, m in enumerate(mats):
            w = _softplus(m)  # C x out x in
            acc = w[:, :, 0:1] * logits[:, 0:1, :]
            for j in range(1, w.shape[2]):
                acc = acc + w[:, :, j:j + 1] * logits[:, j:j + 1, :]
            logits = acc + biases[i]
            if i < len(factors):
                logits = logits + np.tanh(factors[i]) * np.tanh(logits)
        return logits

    def coding_tables(self) -> TableSet:
        """Integer tables for the current parameters (re-derived only after they change)."""
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if self._tables is not None and key == self._cache_key:
            return self._tables
        mats, biases, factors, q = self._params_np()
        med = q[:, 1]
        lo = np.clip(np.floor(q[:, 0] - med), -MAX_TABLE_RADIUS, 0).astype(np.int64)
        hi = np.clip(np.ceil(q[:, 2] - med), 0, MAX_TABLE_RADIUS).astype(np.int64)
        probs = []
        for c in range(self.channels):
            k = np.arange(lo[c], hi[c] + 1, dtype=np.float64) + med[c]
            sl = [m[c:c + 1] for m in mats], [b[c:c + 1] for b in biases], [f[c:c + 1] for f in factors]
            lower = self._logits_cumulative_np((k - 0.5)[None, None, :], *sl)[0, 0]
            upper = self._logits_cumulative_np((k + 0.5)[None, None, :], *sl)[0, 0]
            # sigmoid(upper) - sigmoid(lower), computed on the side where it does not cancel
            sign = -np.sign(lower + upper)
            probs.append(np.abs(_sigmoid(sign * upper) - _sigmoid(sign * lower)))
        self._tables = TableSet([pmf_with_escape(p) for p in probs], lo)
        self._cache_key = key
        return self._tables

    def _indexes(self, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) < 2 or shape[1] != self.channels:
            raise ValueError(f"expected N x {self.channels} x ... symbols, got shape {shape}")
        idx = np.arange(self.channels).reshape((1, -1) + (1,) * (len(shape) - 2))
        return np.broadcast_to(idx, shape)

    # ---------------------------------------------------------------- coding
    def to_symbols(self, y: torch.Tensor) -> np.ndarray:
        """``round(y - median)`` per channel, int64."""
        med = self.medians.reshape((1, -1) + (1,) * (y.dim() - 2))
        return torch.round(y.detach() - med).cpu().numpy().astype(np.int64)

    def from_symbols(self, symbols: np.ndarray) -> torch.Tensor:
        med = self.medians.reshape((1, -1) + (1,) * (symbols.ndim - 2))
        return torch.from_numpy(symbols.astype(np.float32)) + med.cpu().float()

    def encode(self, enc: Encoder, symbols: np.ndarray) -> None:
        self.coding_tables().encode(enc, symbols, self._indexes(symbols.shape))

    def decode(self, dec: Decoder, shape: tuple[int, ...]) -> np.ndarray:
        return self.coding_tables().decode(dec, self._indexes(tuple(shape)))

    def bits(self, symbols: np.ndarray) -> float:
        return self.coding_tables().bits(symbols, self._indexes(symbols.shape))
