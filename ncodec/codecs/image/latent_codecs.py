"""Latent codecs: how ``y`` is coded given the hyperprior's features, as composable parts.

A hyperprior image model is a hyper-latent codec (``z = h_a(y)`` under a factorized prior,
``hyper = h_s(z_hat)``) plus one of these latent codecs for ``y`` given ``hyper``, in the
manner of CompressAI's ``latent_codecs``; every latent codec gives the six operations listed in
:mod:`ncodec.entropy.gaussian_latent`, so the model composing them never changes.

:class:`~ncodec.entropy.gaussian_latent.GaussianConditionalLatent` (shared with the other
families) reads ``(scales[, means])`` straight off ``hyper``; :class:`CheckerboardLatent`
here adds He et al.'s two-pass spatial context. Latent codecs hold references to modules that the model registers under its own names (``y_prior``,
``context``, ``entropy_net``), so weights files and their hashes do not depend on the
composition. Callers run the coding operations inside :func:`~ncodec.determinism.deterministic`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ncodec.determinism import exact
from ncodec.entropy import ConditionalPrior, Decoder, Encoder
from ncodec.entropy.gaussian_latent import train_outputs
from ncodec.entropy.quantization import quantize


class CheckerboardContext(nn.Conv2d):
    """5x5 convolution that only sees checkerboard anchors around a non-anchor position."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 5) -> None:
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        idx = torch.arange(kernel)
        mask = ((idx[:, None] + idx[None, :] - 2 * (kernel // 2)) % 2 != 0).float()
        self.register_buffer("mask", mask[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)

    def at_non_anchors(self, x: torch.Tensor) -> torch.Tensor:
        """``forward(x)`` at the non-anchor positions only (zeros at the anchors), in half the work:
        the two non-anchor sub-lattices, ``(even, odd)`` and ``(odd, even)``, are two stride-2
        convolutions of the padded input offset by one column or one row."""
        p = self.kernel_size[0] // 2
        padded = F.pad(x, (p, p, p, p))
        weight = self.weight * self.mask
        out = x.new_zeros(x.shape[0], self.out_channels, *x.shape[-2:])
        if x.shape[-1] > 1:
            out[..., 0::2, 1::2] = F.conv2d(padded[..., :, 1:], weight, self.bias, stride=2)
        if x.shape[-2] > 1:
            out[..., 1::2, 0::2] = F.conv2d(padded[..., 1:, :], weight, self.bias, stride=2)
        return out


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
        self._pointwise = all(m.kernel_size == (1, 1) for m in entropy_net.modules() if isinstance(m, nn.Conv2d))

    @staticmethod
    def _run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Training's float32 module, or its float64 twin when coding (float64 ``hyper``: the
        tables must come out the same on every machine, see :mod:`ncodec.determinism`)."""
        return exact(module)(x) if x.dtype == torch.float64 else module(x)

    def _params(self, hyper: torch.Tensor, ctx: torch.Tensor,
                where: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scales, means)`` from ``entropy_net``; with ``where`` (an ``(H, W)`` mask) and a
        pointwise network, computed at those positions only (zeros elsewhere)."""
        x = torch.cat([hyper, ctx.to(hyper.dtype)], 1)
        if where is None or not self._pointwise:
            return self._run(self.entropy_net, x).chunk(2, 1)
        part = self._run(self.entropy_net, x[:, :, where][..., None])[..., 0]
        out = x.new_zeros(x.shape[0], part.shape[1], *x.shape[-2:])
        out[:, :, where] = part
        return out.chunk(2, 1)

    def _context(self, y_anchor: torch.Tensor) -> torch.Tensor:
        """The context features where they are used (the non-anchors), float64 when coding."""
        if y_anchor.dtype == torch.float64:
            return exact(self.context).at_non_anchors(y_anchor)
        return self.context(y_anchor)

    def _two_pass(self, y: torch.Tensor, hyper: torch.Tensor, anchor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training's per-element ``(scales, means)``: non-anchors see the straight-through rounded anchors."""
        s0, m0 = self._params(hyper, torch.zeros_like(hyper))
        s1, m1 = self._params(hyper, self.context(quantize(y, "ste", m0) * anchor))
        return torch.where(anchor, s0, s1), torch.where(anchor, m0, m1)

    def forward(self, y: torch.Tensor, hyper: torch.Tensor, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self._two_pass(y, hyper, anchor_mask(*y.shape[-2:]).to(y.device))
        return train_outputs(self.prior, y, scales, means, training)

    def rate_parameters(self, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._two_pass(y, hyper, anchor_mask(*y.shape[-2:]).to(y.device))

    def symbols(self, y: torch.Tensor, hyper: torch.Tensor) -> np.ndarray:
        where = anchor_mask(*y.shape[-2:])[0, 0]
        anchor = where.expand_as(y)
        s0, m0 = self._params(hyper, torch.zeros_like(hyper), where)
        y_anchor = torch.round(y - m0) + m0
        s1, m1 = self._params(hyper, self._context(y_anchor * anchor), ~where)
        return torch.where(anchor, torch.round(y - m0), torch.round(y - m1)).numpy().astype("int64")

    def _passes(self, hyper: torch.Tensor, y_shape: tuple[int, ...], anchors) -> tuple:
        """The coding passes: ``anchors(s0) -> anchor symbols`` (coded or decoded), from which
        the non-anchors' scales and means follow."""
        where = anchor_mask(*y_shape[-2:])[0, 0]
        anchor = where.expand(y_shape)
        s0, m0 = self._params(hyper, torch.zeros_like(hyper), where)
        sym0 = anchors(s0[anchor])
        y_hat = torch.zeros(y_shape, dtype=hyper.dtype)
        y_hat[anchor] = torch.from_numpy(sym0).to(hyper.dtype) + m0[anchor]
        s1, m1 = self._params(hyper, self._context(y_hat * anchor), ~where)
        return anchor, sym0, y_hat, s1[~anchor], m1[~anchor]

    @staticmethod
    def _anchors_of(y_sym: torch.Tensor) -> np.ndarray:
        return y_sym[anchor_mask(*y_sym.shape[-2:]).expand(y_sym.shape)].numpy()

    def dequantize(self, y_sym: np.ndarray, hyper: torch.Tensor) -> torch.Tensor:
        sym = torch.from_numpy(y_sym)
        anchor, _, y_hat, _, m1 = self._passes(hyper, tuple(sym.shape), lambda s0: self._anchors_of(sym))
        y_hat[~anchor] = sym[~anchor].to(y_hat.dtype) + m1
        return y_hat.float()

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
        y_hat[~anchor] = torch.from_numpy(sym1).to(y_hat.dtype) + m1
        y_sym = np.zeros(tuple(shape), np.int64)
        y_sym[anchor.numpy()], y_sym[~anchor.numpy()] = sym0, sym1
        return y_sym, y_hat.float()

    def bits(self, y_sym: np.ndarray, hyper: torch.Tensor) -> float:
        sym = torch.from_numpy(y_sym)
        total = [0.0]

        def anchors(s0: torch.Tensor) -> np.ndarray:
            sym0 = self._anchors_of(sym)
            total.append(self.prior.bits(sym0, s0))
            return sym0

        anchor, _, _, s1, _ = self._passes(hyper, tuple(sym.shape), anchors)
        return sum(total) + self.prior.bits(sym[~anchor].numpy(), s1)
