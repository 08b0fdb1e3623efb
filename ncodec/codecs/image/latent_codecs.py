"""Latent codecs: how ``y`` is coded given the hyperprior's features, as composable parts.

A hyperprior image model is a hyper-latent codec (``z = h_a(y)`` under a factorized prior,
``hyper = h_s(z_hat)``) plus one of these latent codecs for ``y`` given ``hyper``, in the
manner of CompressAI's ``latent_codecs``. Each gives the same six operations, so the model
composing them never changes:

* ``forward(y, hyper, training)`` -- training: ``(y_hat (straight-through), P(y))``;
* ``rate_parameters(y, hyper)`` -- differentiable ``(scales, means)`` for refinement;
* ``symbols(y, hyper)`` / ``dequantize(y_sym, hyper)`` -- quantization and its inverse;
* ``encode(enc, y_sym, hyper)`` / ``decode(dec, shape, hyper)`` -- entropy coding only;
* ``bits(y_sym, hyper)`` -- the size under the coding tables.

:class:`GaussianConditionalLatent` reads ``(scales[, means])`` straight off ``hyper``;
:class:`CheckerboardLatent` adds He et al.'s two-pass spatial context. Latent codecs hold
references to modules that the model registers under its own names (``y_prior``,
``context``, ``entropy_net``), so weights files and their hashes do not depend on the
composition. Callers run the coding operations inside :func:`~ncodec.determinism.deterministic`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ncodec.entropy import ConditionalPrior, Decoder, Encoder
from ncodec.entropy.quantization import quantize


def _dequantize(y_sym: np.ndarray, means: Optional[torch.Tensor]) -> torch.Tensor:
    """``y_hat = symbol + mean`` (a scale-only model has no means)."""
    y_hat = torch.from_numpy(y_sym.astype("float32"))
    return y_hat + means if means is not None else y_hat


def _train(prior: ConditionalPrior, y: torch.Tensor, scales: torch.Tensor, means: Optional[torch.Tensor],
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
        return _train(self.prior, y, scales, means, training)

    def rate_parameters(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self._params(hyper)

    def symbols(self, y: torch.Tensor, hyper: torch.Tensor) -> np.ndarray:
        _, means = self._params(hyper)
        y_sym = torch.round(y - means) if means is not None else torch.round(y)
        return y_sym.numpy().astype("int64")

    def dequantize(self, y_sym: np.ndarray, hyper: torch.Tensor) -> torch.Tensor:
        return _dequantize(y_sym, self._params(hyper)[1])

    def encode(self, enc: Encoder, y_sym: np.ndarray, hyper: torch.Tensor) -> None:
        self.prior.encode(enc, y_sym, self._params(hyper)[0])

    def decode(self, dec: Decoder, shape: tuple[int, ...], hyper: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        scales, means = self._params(hyper)
        y_sym = self.prior.decode(dec, scales, shape=shape)
        return y_sym, _dequantize(y_sym, means)

    def bits(self, y_sym: np.ndarray, hyper: torch.Tensor) -> float:
        return self.prior.bits(y_sym, self._params(hyper)[0])


class CheckerboardContext(nn.Conv2d):
    """5x5 convolution that only sees checkerboard anchors around a non-anchor position."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 5) -> None:
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        idx = torch.arange(kernel)
        mask = ((idx[:, None] + idx[None, :] - 2 * (kernel // 2)) % 2 != 0).float()
        self.register_buffer("mask", mask[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


def anchor_mask(h: int, w: int) -> torch.Tensor:
    """``(i + j)`` even: the positions coded first, from the hyperprior alone."""
    i = torch.arange(h)[:, None]
    j = torch.arange(w)[None, :]
    return ((i + j) % 2 == 0)[None, None]


class CheckerboardLatent:
    """``y`` in two passes (He et al., CVPR 2021): anchors from ``e(hyper, 0)``, the rest from
    ``e(hyper, context(anchors))``; ``e`` is ``entropy_net`` on the concatenation, giving
    ``(scales, means)``. ``y``'s symbols are ``round(y - m0)`` at anchors, ``round(y - m1)`` elsewhere."""

    def __init__(self, prior: ConditionalPrior, context: CheckerboardContext, entropy_net: nn.Module) -> None:
        self.prior, self.context, self.entropy_net = prior, context, entropy_net

    def _params(self, hyper: torch.Tensor, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self.entropy_net(torch.cat([hyper, ctx], 1)).chunk(2, 1)
        return scales, means

    def _two_pass(self, y: torch.Tensor, hyper: torch.Tensor, anchor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training's per-element ``(scales, means)``: non-anchors see the straight-through rounded anchors."""
        s0, m0 = self._params(hyper, torch.zeros_like(hyper))
        s1, m1 = self._params(hyper, self.context(quantize(y, "ste", m0) * anchor))
        return torch.where(anchor, s0, s1), torch.where(anchor, m0, m1)

    def forward(self, y: torch.Tensor, hyper: torch.Tensor, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self._two_pass(y, hyper, anchor_mask(*y.shape[-2:]).to(y.device))
        return _train(self.prior, y, scales, means, training)

    def rate_parameters(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._two_pass(y, hyper, anchor_mask(*y.shape[-2:]).to(y.device))

    def symbols(self, y: torch.Tensor, hyper: torch.Tensor) -> np.ndarray:
        anchor = anchor_mask(*y.shape[-2:]).expand_as(y)
        s0, m0 = self._params(hyper, torch.zeros_like(hyper))
        y_anchor = torch.round(y - m0) + m0
        s1, m1 = self._params(hyper, self.context(y_anchor * anchor))
        return torch.where(anchor, torch.round(y - m0), torch.round(y - m1)).numpy().astype("int64")

    def _passes(self, hyper: torch.Tensor, y_shape: tuple[int, ...], anchors) -> tuple:
        """The coding passes: ``anchors(s0) -> anchor symbols`` (coded or decoded), from which
        the non-anchors' scales and means follow."""
        anchor = anchor_mask(*y_shape[-2:]).expand(y_shape)
        s0, m0 = self._params(hyper, torch.zeros_like(hyper))
        sym0 = anchors(s0[anchor])
        y_hat = torch.zeros(y_shape)
        y_hat[anchor] = torch.from_numpy(sym0.astype("float32")) + m0[anchor]
        s1, m1 = self._params(hyper, self.context(y_hat * anchor))
        return anchor, sym0, y_hat, s1[~anchor], m1[~anchor]

    @staticmethod
    def _anchors_of(y_sym: torch.Tensor) -> np.ndarray:
        return y_sym[anchor_mask(*y_sym.shape[-2:]).expand(y_sym.shape)].numpy()

    def dequantize(self, y_sym: np.ndarray, hyper: torch.Tensor) -> torch.Tensor:
        sym = torch.from_numpy(y_sym)
        anchor, _, y_hat, _, m1 = self._passes(hyper, tuple(sym.shape), lambda s0: self._anchors_of(sym))
        y_hat[~anchor] = sym[~anchor].float() + m1
        return y_hat

    def encode(self, enc: Encoder, y_sym: np.ndarray, hyper: torch.Tensor) -> None:
        sym = torch.from_numpy(y_sym)

        def anchors(s0: torch.Tensor) -> np.ndarray:
            sym0 = self._anchors_of(sym)
            self.prior.encode(enc, sym0, s0)
            return sym0

        anchor, _, _, s1, _ = self._passes(hyper, tuple(sym.shape), anchors)
        self.prior.encode(enc, sym[~anchor].numpy(), s1)

    def decode(self, dec: Decoder, shape: tuple[int, ...], hyper: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        anchor, sym0, y_hat, s1, m1 = self._passes(hyper, tuple(shape), lambda s0: self.prior.decode(dec, s0))
        sym1 = self.prior.decode(dec, s1)
        y_hat[~anchor] = torch.from_numpy(sym1.astype("float32")) + m1
        y_sym = np.zeros(tuple(shape), np.int64)
        y_sym[anchor.numpy()], y_sym[~anchor.numpy()] = sym0, sym1
        return y_sym, y_hat

    def bits(self, y_sym: np.ndarray, hyper: torch.Tensor) -> float:
        sym = torch.from_numpy(y_sym)
        total = [0.0]

        def anchors(s0: torch.Tensor) -> np.ndarray:
            sym0 = self._anchors_of(sym)
            total.append(self.prior.bits(sym0, s0))
            return sym0

        anchor, _, _, s1, _ = self._passes(hyper, tuple(sym.shape), anchors)
        return sum(total) + self.prior.bits(sym[~anchor].numpy(), s1)
