"""Zero-inflated prior for quantized network weights and other sparse integer tensors.

Pruned, quantized weights are a spike of exact zeros on top of a peaked, roughly Laplacian
spread. One group (a layer's weight tensor, an embedding channel) gets two parameters:

``P(0) = p0``;  ``P(k) = (1 - p0) * f(k) / sum_{j != 0} f(j)`` for ``0 < |k| <= K``,

where ``f(k) = F((|k| + 1/2) / s) - F((|k| - 1/2) / s)`` is the mass of a zero-mean Laplace
(or Gaussian) of scale ``s`` on the unit bin around ``k``, and ``K`` is the largest magnitude
the group's quantizer can produce (``2**(bits - 1) - 1``). Values beyond ``K`` are escape
coded exactly, so any integer round-trips.

The two parameters travel as small integers (:class:`ZIParams`): ``p0`` in steps of
``1/65536`` and ``log2 s`` in steps of ``1/16``. The encoder fits them per group (the zero
fraction, then the scale that minimises the exact coded size among a few candidates around
the maximum-likelihood one); tables are built in float64 from those integers, so the decoder
rebuilds them bit for bit.

>>> import numpy as np
>>> from ncodec.entropy import Encoder, Decoder
>>> from ncodec.entropy.zero_inflated import ZeroInflatedPrior
>>> prior = ZeroInflatedPrior(max_abs=127)
>>> groups = [np.array([0, 0, 3, -1, 0, 2]), np.array([5, -7, 0])]
>>> params = [prior.fit(g) for g in groups]
>>> enc = Encoder(); prior.encode(enc, groups, params); data = enc.finish()
>>> [g.tolist() for g in prior.decode(Decoder(data), params, shape=[6, 3])]
[[0, 0, 3, -1, 0, 2], [5, -7, 0]]
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from ncodec.entropy import distributions as dist
from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.tables import TableSet, pmf_with_escape

P0_ONE = 1 << 16
LOG_SCALE_STEPS = 16  # log2(scale) resolution: 1/16
LOG_SCALE_MIN, LOG_SCALE_MAX = -8 * LOG_SCALE_STEPS, 16 * LOG_SCALE_STEPS
MAX_ABS_LIMIT = 1 << 15


class ZIParams(NamedTuple):
    """A group's coded parameters: ``p0 = zero / 65536`` and ``s = 2 ** (log_scale / 16)``."""

    zero: int
    log_scale: int

    @property
    def p0(self) -> float:
        return self.zero / P0_ONE

    @property
    def scale(self) -> float:
        return 2.0 ** (self.log_scale / LOG_SCALE_STEPS)

    def to_list(self) -> list[int]:
        return [int(self.zero), int(self.log_scale)]

    @classmethod
    def from_list(cls, v: Sequence[int]) -> "ZIParams":
        """Validate parameters read from a stream (raises ``ValueError``)."""
        if len(v) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise ValueError("zero-inflated parameters must be two integers")
        zero, ls = int(v[0]), int(v[1])
        if not (1 <= zero <= P0_ONE - 1) or not (LOG_SCALE_MIN <= ls <= LOG_SCALE_MAX):
            raise ValueError(f"zero-inflated parameters out of range: {zero}, {ls}")
        return cls(zero, ls)


class ZeroInflatedPrior:
    """Groups of integers in ``[-max_abs, max_abs]`` (others escaped) under a spike-and-slab."""

    def __init__(self, max_abs: int = 127, distribution: str = "laplace") -> None:
        if not (1 <= int(max_abs) <= MAX_ABS_LIMIT):
            raise ValueError(f"max_abs must be in 1..{MAX_ABS_LIMIT}")
        self.max_abs = int(max_abs)
        self.distribution = dist.check(distribution)

    # ---------------------------------------------------------------- tables
    def pmf(self, params: ZIParams) -> np.ndarray:
        """Float64 probabilities of ``-K..K`` (sums to 1)."""
        k = np.arange(-self.max_abs, self.max_abs + 1, dtype=np.float64)
        f = dist.pmf_np(self.distribution, k, np.zeros_like(k), np.full_like(k, params.scale))
        f[self.max_abs] = 0.0
        total = f.sum()
        if not total > 0:  # scale so small that no mass reaches |k| >= 1
            f = np.where(np.abs(k) == 1, 1.0, 0.0)
            total = 2.0
        p = f * ((1.0 - params.p0) / total)
        p[self.max_abs] = params.p0
        return np.maximum(p, 1e-300)

    def _tables(self, params: Sequence[ZIParams]) -> TableSet:
        return TableSet([pmf_with_escape(self.pmf(p)) for p in params],
                        np.full(len(params), -self.max_abs, dtype=np.int64))

    # ---------------------------------------------------------------- fitting
    def _ideal_bits(self, values: np.ndarray, p: ZIParams) -> float:
        return self._tables([p]).bits(values, np.zeros(values.size, dtype=np.int64))

    def fit(self, values: np.ndarray) -> ZIParams:
        """Parameters for one group: its zero fraction and the best scale near the ML one."""
        v = np.asarray(values, dtype=np.int64).reshape(-1)
        zeros = int(np.count_nonzero(v == 0))
        zero = min(max(int(round(P0_ONE * (zeros + 0.5) / (v.size + 1))), 1), P0_ONE - 1)
        nz = np.abs(v[v != 0]).astype(np.float64)
        if nz.size == 0:
            return ZIParams(zero, LOG_SCALE_MIN)
        b = max(float(nz.mean()) - 0.5, 0.05)  # Laplace diversity of the bins |k| >= 1
        if self.distribution == "gaussian":
            b = max(math.sqrt(float(np.mean(nz * nz))), 0.05)
        centre = int(round(math.log2(b) * LOG_SCALE_STEPS))
        sample = v if v.size <= 65536 else v[:: v.size // 65536 + 1]
        best: tuple[float, int] | None = None
        # a few scales around the ML one, and a very wide one (near-uniform data such as embeddings)
        for ls in sorted({min(max(centre + d, LOG_SCALE_MIN), LOG_SCALE_MAX) for d in range(-8, 9, 2)}
                         | {min(LOG_SCALE_MAX, LOG_SCALE_STEPS * (self.max_abs.bit_length() + 2))}):
            bits = self._ideal_bits(sample, ZIParams(zero, ls))
            if best is None or bits < best[0]:
                best = (bits, ls)
        assert best is not None
        return ZIParams(zero, best[1])

    # ---------------------------------------------------------------- coding
    @staticmethod
    def _indexes(sizes: Sequence[int]) -> np.ndarray:
        return np.repeat(np.arange(len(sizes), dtype=np.int64), np.asarray(sizes, dtype=np.int64))

    def encode(self, enc: Encoder, groups: Sequence[np.ndarray], params: Sequence[ZIParams]) -> None:
        if len(groups) != len(params):
            raise ValueError("one parameter pair per group is required")
        if not groups:
            return
        values = np.concatenate([np.asarray(g, dtype=np.int64).reshape(-1) for g in groups])
        self._tables(params).encode(enc, values, self._indexes([np.size(g) for g in groups]))

    def likelihood(self, groups: Sequence, params: Sequence[ZIParams]) -> list:
        """Per group, the probability of each value under that group's parameters (torch)."""
        import torch

        out = []
        for g, p in zip(groups, params, strict=True):
            pmf = self.pmf(p)
            x = np.clip(np.asarray(g.detach().cpu() if hasattr(g, "detach") else g, dtype=np.int64), -self.max_abs,
                        self.max_abs)
            out.append(torch.from_numpy(pmf[x + self.max_abs]))
        return out

    def decode(self, dec: Decoder, params: Sequence[ZIParams], *, shape: Sequence[int]) -> list[np.ndarray]:
        sizes = list(shape)
        if len(sizes) != len(params):
            raise ValueError("one parameter pair per group is required")
        if not sizes:
            return []
        flat = self._tables(params).decode(dec, self._indexes(sizes))
        return np.split(flat, np.cumsum(np.asarray(sizes, dtype=np.int64))[:-1])

    def bits(self, groups: Sequence[np.ndarray], params: Sequence[ZIParams]) -> float:
        """Ideal coded size in bits under the integer tables (what :meth:`encode` will spend)."""
        if not groups:
            return 0.0
        values = np.concatenate([np.asarray(g, dtype=np.int64).reshape(-1) for g in groups])
        return self._tables(params).bits(values, self._indexes([np.size(g) for g in groups]))
