"""Factorized prior: one learned, non-parametric density per channel (Ballé et al. 2018).

:class:`EntropyBottleneck` models the cumulative ``c(x) = sigmoid(f_K(...f_1(x)))`` of each
channel with a monotone network (``f_i(x) = h_i(softplus(H_i) x + b_i)``,
``h_i(x) = x + tanh(a_i) tanh(x)``); its auxiliary loss fits the ``tail_mass`` quantiles.
Parameter names, initialisation and float maths are CompressAI's ``EntropyBottleneck``'s, so
its checkpoints load unchanged and training gives the same numbers, without importing
compressai. Symbols are ``round(y - median_c)``, CompressAI's convention, so reconstructions
match compressai exactly.

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
import torch.nn.functional as F
from torch import nn

from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.distributions import lower_bound
from ncodec.entropy.tables import TableSet, pmf_with_escape

MAX_TABLE_RADIUS = 1 << 16


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class LowerBound(nn.Module):
    """``max(x, bound)`` with :func:`~ncodec.entropy.distributions.lower_bound`'s gradient (it
    still reaches an ``x`` below the bound when it would raise it). ``bound`` is a float32
    buffer, used as a tensor so that a bound on an accelerator costs no host round trip."""

    bound: torch.Tensor

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.Tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lower_bound(x, self.bound)  # clamp and >= broadcast the 1-element bound


class EntropyBottleneck(nn.Module):
    """Learned cumulative ``c_c(x)`` per channel and the likelihood of (noisy or rounded) values.

    For ``filters = (3, 3, 3, 3)`` each channel's network maps 1 -> 3 -> 3 -> 3 -> 3 -> 1 with
    ``matrices[i]`` (C x out x in, used through softplus, so ``c`` is increasing), ``biases[i]``
    (C x out x 1) and ``factors[i]`` (C x out x 1, all but the last layer). ``quantiles``
    (C x 1 x 3) are the ``tail_mass / 2``, median and ``1 - tail_mass / 2`` points that
    :meth:`loss` fits: ``logits(q) = target = (-t, 0, t)``, ``t = log(2 / tail_mass - 1)``.

    ``_offset``, ``_quantized_cdf`` and ``_cdf_length`` are CompressAI's coding tables, left
    empty: ncodec derives its own (:meth:`FactorizedPrior.coding_tables`). They stay registered
    because a stream's weights hash covers the whole state dict, these buffers included.
    """

    _offset: torch.Tensor
    _quantized_cdf: torch.Tensor
    _cdf_length: torch.Tensor
    target: torch.Tensor

    def __init__(self, channels: int, *, tail_mass: float = 1e-9, init_scale: float = 10.0,
                 filters: tuple[int, ...] = (3, 3, 3, 3), likelihood_bound: float = 1e-9) -> None:
        super().__init__()
        self.use_likelihood_bound = likelihood_bound > 0
        if self.use_likelihood_bound:
            self.likelihood_lower_bound = LowerBound(likelihood_bound)
        for name in ("_offset", "_quantized_cdf", "_cdf_length"):
            self.register_buffer(name, torch.IntTensor())

        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.init_scale = float(init_scale)
        self.tail_mass = float(tail_mass)
        dims = (1,) + self.filters + (1,)
        scale = self.init_scale ** (1 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(self.filters) + 1):
            # softplus(H_i) = 1 / (scale * out_i): the slopes multiply to 1 / init_scale
            matrix = torch.empty(self.channels, dims[i + 1], dims[i])
            matrix.fill_(np.log(np.expm1(1 / scale / dims[i + 1])))
            self.matrices.append(nn.Parameter(matrix))
            bias = torch.empty(self.channels, dims[i + 1], 1)
            nn.init.uniform_(bias, -0.5, 0.5)
            self.biases.append(nn.Parameter(bias))
            if i < len(self.filters):
                self.factors.append(nn.Parameter(torch.zeros(self.channels, dims[i + 1], 1)))
        init = torch.Tensor([-self.init_scale, 0, self.init_scale])
        self.quantiles = nn.Parameter(init.repeat(self.channels, 1, 1))
        target = np.log(2 / self.tail_mass - 1)
        self.register_buffer("target", torch.Tensor([-target, 0, target]))

    def _medians(self) -> torch.Tensor:
        return self.quantiles[:, :, 1:2]

    def logits_cumulative(self, x: torch.Tensor, stop_gradient: bool = False) -> torch.Tensor:
        """``logit(c(x))`` for ``x``: C x 1 x N (``stop_gradient``: constant parameters)."""
        logits = x
        for i in range(len(self.filters) + 1):
            matrix, bias = self.matrices[i], self.biases[i]
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            logits = torch.matmul(F.softplus(matrix), logits) + bias
            if i < len(self.filters):
                factor = self.factors[i].detach() if stop_gradient else self.factors[i]
                logits = logits + torch.tanh(factor) * torch.tanh(logits)
        return logits

    def likelihood(self, x: torch.Tensor,
                   stop_gradient: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(P, lower, upper)`` for ``x``: C x 1 x N, with ``lower = logits(x - 1/2)``,
        ``upper = logits(x + 1/2)`` and ``P = sigmoid(upper) - sigmoid(lower)`` (not bounded)."""
        lower = self.logits_cumulative(x - 0.5, stop_gradient)
        upper = self.logits_cumulative(x + 0.5, stop_gradient)
        return torch.sigmoid(upper) - torch.sigmoid(lower), lower, upper

    def loss(self) -> torch.Tensor:
        """``sum |logits(quantiles) - target|``; only the quantiles get gradients."""
        return torch.abs(self.logits_cumulative(self.quantiles, stop_gradient=True) - self.target).sum()

    def forward(self, x: torch.Tensor, training: Optional[bool] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_hat, P(x_hat))`` for ``x``: B x C x ...; ``x_hat = x + u``, ``u ~ U(-1/2, 1/2)``, in
        training, else ``round(x - median) + median``. ``P`` is bounded below by ``likelihood_bound``."""
        if training is None:
            training = self.training
        perm = (1, 0) + tuple(range(2, x.dim()))  # B x C x ... <-> C x B x ... (its own inverse)
        x = x.permute(*perm).contiguous()
        shape = x.shape
        values = x.reshape(x.shape[0], 1, -1)
        if training:
            outputs = values + torch.empty_like(values).uniform_(-0.5, 0.5)
        else:
            medians = self._medians()
            outputs = torch.round(values - medians) + medians
        lik = self.likelihood(outputs)[0]
        if self.use_likelihood_bound:
            lik = self.likelihood_lower_bound(lik)
        outputs = outputs.reshape(shape).permute(*perm).contiguous()
        return outputs, lik.reshape(shape).permute(*perm).contiguous()


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

    def likelihood(self, values: torch.Tensor) -> torch.Tensor:
        """``P(values)`` under the per-channel densities (N x C x ...), bounded below like ``forward``'s."""
        perm = (1, 0) + tuple(range(2, values.dim()))
        x = values.permute(*perm).contiguous()
        lik = self.bottleneck.likelihood(x.reshape(x.shape[0], 1, -1))[0]
        if self.bottleneck.use_likelihood_bound:
            lik = self.bottleneck.likelihood_lower_bound(lik)
        return lik.reshape(x.shape).permute(*perm).contiguous()

    def decode(self, dec: Decoder, *, shape: tuple[int, ...]) -> np.ndarray:
        return self.coding_tables().decode(dec, self._indexes(tuple(shape)))

    def bits(self, symbols: np.ndarray) -> float:
        return self.coding_tables().bits(symbols, self._indexes(symbols.shape))
