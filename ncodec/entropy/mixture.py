"""Gaussian mixture prior: ``K`` weighted Gaussians per element (Cheng et al. 2020).

``P(x) = sum_k w_k [Phi((x - mu_k + 1/2) / s_k) - Phi((x - mu_k - 1/2) / s_k)]`` with
``w = softmax(weight_logits)`` over the last axis. Every element has its own table: the
window ``[c - R, c + R]`` around ``c = round(sum_k w_k mu_k)`` with
``R = max_k(|mu_k - c| + r s_k)`` (``r`` from the tail mass), grouped into power-of-two
widths so rows of similar size are coded together. Rows are built from float64 maths on the
element's own parameters only, so the tables do not depend on batch composition.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import torch

from ncodec.entropy import distributions as dist
from ncodec.entropy.prior import check_shape
from ncodec.entropy.quantization import as_numpy
from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.tables import decode_rows, encode_rows, quantize_pmf, rows_bits

MAX_WIDTH = 1 << 15


class GaussianMixturePrior:
    """Per-element mixture of ``K`` Gaussians; parameters have a trailing axis of size K."""

    def __init__(self, *, scale_min: float = 0.11, scale_max: float = 256.0, tail_mass: float = 1e-9) -> None:
        self.scale_min, self.scale_max, self.tail_mass = float(scale_min), float(scale_max), float(tail_mass)
        self._radius = dist.tail_radius("gaussian", tail_mass)

    def likelihood(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor,
                   weight_logits: torch.Tensor) -> torch.Tensor:
        """Differentiable ``P(y)``; ``y`` has shape S, the parameters S x K."""
        w = torch.softmax(weight_logits, dim=-1)
        s = dist.lower_bound(scales, self.scale_min)  # one-sided, as in ConditionalPrior.likelihood
        v = torch.abs(y.unsqueeze(-1) - means)
        p = dist.cdf_lower_torch("gaussian", (0.5 - v) / s) - dist.cdf_lower_torch("gaussian", (-0.5 - v) / s)
        return dist.lower_bound((w * p).sum(-1), 1e-9)

    def _prepare(self, weight_logits, means, scales):
        lw = as_numpy(weight_logits).astype(np.float64)
        mu = np.clip(as_numpy(means).astype(np.float64), -2.0 ** 30, 2.0 ** 30)
        s = np.clip(as_numpy(scales).astype(np.float64), self.scale_min, self.scale_max)
        if not (lw.shape == mu.shape == s.shape) or lw.ndim < 1:
            raise ValueError("mixture weights, means and scales must share a shape ... x K")
        shape = lw.shape[:-1]
        k = lw.shape[-1]
        lw, mu, s = lw.reshape(-1, k), mu.reshape(-1, k), s.reshape(-1, k)
        w = scipy.special.softmax(lw, axis=-1)
        center = np.rint((w * mu).sum(-1))
        radius = np.ceil(np.max(np.abs(mu - center[:, None]) + self._radius * s, axis=-1)) + 1
        width_class = np.minimum(np.ceil(np.log2(2 * radius + 2)), math.log2(MAX_WIDTH)).astype(np.int64)
        return shape, w, mu, s, center.astype(np.int64), width_class

    def _row_fn(self, sel, w, mu, s, center, width):
        half = (width - 2) // 2

        def fn(a: int, b: int):
            rows = sel[a:b]
            offsets = center[rows] - half
            # CDF at the width edges k - 1/2; differences give the PMF of the width - 1 values
            edges = (offsets[:, None] + np.arange(width)[None, :]).astype(np.float64) - 0.5
            p = np.zeros((rows.size, width - 1))
            for j in range(w.shape[1]):
                cdf = scipy.special.ndtr((edges - mu[rows, j, None]) / s[rows, j, None])
                p += w[rows, j, None] * np.diff(cdf, axis=-1)
            tail = np.maximum(0.0, 1.0 - p.sum(-1, keepdims=True))
            return quantize_pmf(np.concatenate([p, tail], -1)), offsets
        return fn

    def _classes(self, width_class):
        for c in np.unique(width_class):
            yield int(c), np.flatnonzero(width_class == c)

    def encode(self, enc: Encoder, symbols: np.ndarray, scales, means, weight_logits) -> None:
        shape, w, mu, s, center, wc = self._prepare(weight_logits, means, scales)
        x = np.asarray(symbols, dtype=np.int64)
        if x.shape != shape:
            raise ValueError(f"symbols shape {x.shape} != parameter shape {shape}")
        x = x.reshape(-1)
        for c, sel in self._classes(wc):
            width = 1 << c
            encode_rows(enc, x[sel], self._row_fn(sel, w, mu, s, center, width), sel.size, width)

    def decode(self, dec: Decoder, scales, means, weight_logits, *, shape=None) -> np.ndarray:
        fixed, w, mu, s, center, wc = self._prepare(weight_logits, means, scales)
        check_shape(shape, fixed, "parameters")
        shape = fixed
        out = np.empty(int(np.prod(shape)), dtype=np.int64)
        for c, sel in self._classes(wc):
            width = 1 << c
            out[sel] = decode_rows(dec, self._row_fn(sel, w, mu, s, center, width), sel.size, width)
        return out.reshape(shape)

    def bits(self, symbols: np.ndarray, scales, means, weight_logits) -> float:
        shape, w, mu, s, center, wc = self._prepare(weight_logits, means, scales)
        x = np.asarray(symbols, dtype=np.int64).reshape(-1)
        return sum(rows_bits(x[sel], self._row_fn(sel, w, mu, s, center, 1 << c), sel.size, 1 << c)
                   for c, sel in self._classes(wc))

    def exact_bits(self, symbols: np.ndarray, scales, means, weight_logits) -> float:
        shape, w, mu, s, _, _ = self._prepare(weight_logits, means, scales)
        x = np.asarray(symbols, dtype=np.float64).reshape(-1, 1)
        p = (w * dist.pmf_np("gaussian", x, mu, s)).sum(-1)
        return float(-np.sum(np.log2(np.maximum(p, 1e-300))))


