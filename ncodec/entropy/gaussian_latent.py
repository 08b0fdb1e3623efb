"""A latent codec: ``y`` under a Gaussian whose per-element scales (and means) come from side features.

The piece a hyperprior model composes with its hyper-latent part (the way CompressAI's
``latent_codecs`` compose): given ``hyper`` (``h_s(z_hat)``, channels on axis 1), ``y`` of any
rank (images ``N x C x H x W``, audio ``N x C x T``) is quantized around the means, coded with
:class:`~ncodec.entropy.ConditionalPrior` and dequantized. Context models (the image family's
checkerboard) provide the same six operations:

* ``forward(y, hyper, training)`` -- training: ``(y_hat (straight-through), P(y))``;
* ``rate_parameters(y, hyper)`` -- differentiable ``(scales, means)`` for refinement;
* ``symbols(y, hyper)`` / ``dequantize(y_sym, hyper)`` -- quantization and its inverse;
* ``encode(enc, y_sym, hyper)`` / ``decode(dec, shape, hyper)`` -- entropy coding only;
* ``bits(y_sym, hyper)`` -- the size under the coding tables.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.conditional import ConditionalPrior
from ncodec.entropy.quantization import quantize


def dequantize_residuals(y_sym: np.ndarray, means: Optional[torch.Tensor]) -> torch.Tensor:
    """``y_hat = symbol + mean`` (a scale-only model has no means), as float32 for the synthesis
    (added in the means' precision, float64 when coding, then rounded once)."""
    if means is None:
        return torch.from_numpy(y_sym.astype("float32"))
    return (torch.from_numpy(y_sym).to(means.dtype) + means).float()


def train_outputs(prior: ConditionalPrior, y: torch.Tensor, scales: torch.Tensor, means: Optional[torch.Tensor],
           training: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise for the rate in training, rounding otherwise; straight-through values for the synthesis."""
    y_rate = quantize(y, "noise") if training else quantize(y, "round", means)
    return quantize(y, "ste", means), prior.likelihood(y_rate, scales, means)


class GaussianConditionalLatent:
    """``y`` under a Gaussian with per-element ``(scales, means) = hyper`` (``means`` only when ``mean``)."""

    def __init__(self, prior: ConditionalPrior, mean: bool) -> None:
        self.prior, self.mean = prior, bool(mean)

    def _params(self, hyper: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if self.mean:
            scales, means = hyper.chunk(2, 1)
            return scales, means
        return hyper, None

    def forward(self, y: torch.Tensor, hyper: torch.Tensor, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self._params(hyper)
        return train_outputs(self.prior, y, scales, means, training)

    def rate_parameters(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self._params(hyper)

    def symbols(self, y: torch.Tensor, hyper: torch.Tensor) -> np.ndarray:
        _, means = self._params(hyper)
        y_sym = torch.round(y - means) if means is not None else torch.round(y)
        return y_sym.numpy().astype("int64")

    def dequantize(self, y_sym: np.ndarray, hyper: torch.Tensor) -> torch.Tensor:
        return dequantize_residuals(y_sym, self._params(hyper)[1])

    def encode(self, enc: Encoder, y_sym: np.ndarray, hyper: torch.Tensor) -> None:
        self.prior.encode(enc, y_sym, self._params(hyper)[0])

    def decode(self, dec: Decoder, shape: tuple[int, ...], hyper: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        scales, means = self._params(hyper)
        y_sym = self.prior.decode(dec, scales, shape=shape)
        return y_sym, dequantize_residuals(y_sym, means)

    def bits(self, y_sym: np.ndarray, hyper: torch.Tensor) -> float:
        return self.prior.bits(y_sym, self._params(hyper)[0])
