"""Mean-scale hyperprior with a checkerboard context model (He et al., CVPR 2021).

Latent positions split into *anchors* (``(i + j)`` even) and *non-anchors*. Anchors are coded
with the hyperprior alone; non-anchors additionally see a context computed from the decoded
anchors by a 5x5 convolution masked to anchor neighbours (offsets with odd ``di + dj``).
Both passes share one entropy-parameter network ``e(hyper, ctx)`` (1x1 convolutions), with a
zero context for anchors. Decoding is two parallel passes, not a per-pixel loop::

    z -> hyper = h_s(z_hat) -> (scale, mean) of anchors = e(hyper, 0) -> anchors
      -> ctx = conv_masked(anchors) -> (scale, mean) of the rest = e(hyper, ctx) -> the rest
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ncodec.determinism import deterministic
from ncodec.codecs.image.hyperprior import DEFAULT_LAMBDAS, HyperpriorModel
from ncodec.entropy import Decoder, Encoder
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


def anchor_mask(h: int, w: int) -> torch.Tensor:
    i = torch.arange(h)[:, None]
    j = torch.arange(w)[None, :]
    return ((i + j) % 2 == 0)[None, None]


class CheckerboardModel(HyperpriorModel):
    def __init__(self, N: int = 128, M: int = 192, *, lambdas: tuple[float, ...] = DEFAULT_LAMBDAS,
                 variable_rate: bool = True) -> None:
        super().__init__(N, M, mean=True, lambdas=lambdas, variable_rate=variable_rate)
        self.arch = "checkerboard"
        self.context = CheckerboardContext(M, 2 * M)
        self.entropy_net = nn.Sequential(
            nn.Conv2d(4 * M, 10 * M // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(10 * M // 3, 8 * M // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(8 * M // 3, 2 * M, 1),
        )

    @property
    def parameter_head(self) -> nn.Conv2d:
        """The entropy network's last layer: output channels ``0..M-1`` are the scales, ``M..2M-1`` the means."""
        return self.entropy_net[-1]

    def _params(self, hyper: torch.Tensor, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self.entropy_net(torch.cat([hyper, ctx], 1)).chunk(2, 1)
        return scales, means

    def _two_pass(self, y: torch.Tensor, hyper: torch.Tensor, anchor: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Training's two passes: anchors' ``(s0, m0)`` from the hyperprior alone, the rest's
        ``(s1, m1)`` from the context of the straight-through rounded anchors."""
        s0, m0 = self._params(hyper, torch.zeros_like(hyper))
        s1, m1 = self._params(hyper, self.context(quantize(y, "ste", m0) * anchor))
        return s0, m0, s1, m1

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, q) -> dict:
        qv = self.quality_tensor(q, x.shape[0])
        y = self.g_a(x) * self.gain.gain(qv)
        z = self.h_a(y)
        z_hat, z_lik = self.z_prior(z)
        hyper = self.h_s(z_hat)
        anchor = anchor_mask(*y.shape[-2:]).to(y.device)
        s0, m0, s1, m1 = self._two_pass(y, hyper, anchor)
        scales, means = torch.where(anchor, s0, s1), torch.where(anchor, m0, m1)
        y_noisy = quantize(y, "noise") if self.training else quantize(y, "round", means)
        y_lik = self.y_prior.likelihood(y_noisy, scales, means)
        x_hat = self.g_s(quantize(y, "ste", means) * self.gain.inverse_gain(qv))
        return {"x_hat": x_hat, "likelihoods": {"y": y_lik, "z": z_lik}}

    # ------------------------------------------------------------------ refinement
    def _y_parameters(self, y: torch.Tensor, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        anchor = anchor_mask(*y.shape[-2:]).to(y.device)
        s0, m0, s1, m1 = self._two_pass(y, self.h_s(z_hat), anchor)
        return torch.where(anchor, s0, s1), torch.where(anchor, m0, m1)

    # ------------------------------------------------------------------ coding
    def symbols(self, lat: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """``z`` symbols, and ``y`` residuals: ``round(y - m0)`` at anchors, ``round(y - m1)`` elsewhere."""
        y, z = lat["y"].detach(), lat["z"].detach()
        z_sym = self.z_prior.to_symbols(z)
        anchor = anchor_mask(*y.shape[-2:]).expand_as(y)
        with deterministic():
            hyper = self.h_s(self.z_prior.from_symbols(z_sym))
            s0, m0 = self._params(hyper, torch.zeros_like(hyper))
            y_anchor = torch.round(y - m0) + m0
            s1, m1 = self._params(hyper, self.context(y_anchor * anchor))
        y_sym = torch.where(anchor, torch.round(y - m0), torch.round(y - m1))
        return {"z": z_sym, "y": y_sym.numpy().astype("int64")}

    def _passes(self, z_sym: np.ndarray, y_shape: tuple[int, ...], anchors) -> tuple:
        """The two passes from the hyper-latent: ``anchors(s0, m0) -> anchor residuals`` gives the
        anchors' symbols (coded or decoded), from which the non-anchors' scales and means follow."""
        anchor = anchor_mask(*y_shape[-2:]).expand(y_shape)
        with deterministic():
            hyper = self.h_s(self.z_prior.from_symbols(z_sym))
            s0, m0 = self._params(hyper, torch.zeros_like(hyper))
            sym0 = anchors(s0[anchor])
            y_hat = torch.zeros(y_shape)
            y_hat[anchor] = torch.from_numpy(sym0.astype("float32")) + m0[anchor]
            s1, m1 = self._params(hyper, self.context(y_hat * anchor))
        return anchor, sym0, y_hat, s1[~anchor], m1[~anchor]

    def encode_symbols(self, symbols: dict[str, np.ndarray], coder: str = "ans") -> bytes:
        enc = Encoder(coder)
        self.z_prior.encode(enc, symbols["z"])
        y_sym = torch.from_numpy(symbols["y"])

        def anchors(s0: torch.Tensor) -> np.ndarray:
            sym0 = y_sym[anchor_mask(*y_sym.shape[-2:]).expand(y_sym.shape)].numpy()
            self.y_prior.encode(enc, sym0, s0)
            return sym0

        anchor, _, _, s1, _ = self._passes(symbols["z"], tuple(y_sym.shape), anchors)
        self.y_prior.encode(enc, y_sym[~anchor].numpy(), s1)
        return enc.finish()

    def estimate_bits(self, x: torch.Tensor, q: float) -> float:
        sym = self.symbols(self.latents(x, q))
        y_sym = torch.from_numpy(sym["y"])
        bits = [self.z_prior.bits(sym["z"])]

        def anchors(s0: torch.Tensor) -> np.ndarray:
            sym0 = y_sym[anchor_mask(*y_sym.shape[-2:]).expand(y_sym.shape)].numpy()
            bits.append(self.y_prior.bits(sym0, s0))
            return sym0

        anchor, _, _, s1, _ = self._passes(sym["z"], tuple(y_sym.shape), anchors)
        return sum(bits) + self.y_prior.bits(y_sym[~anchor].numpy(), s1)

    def dequantize(self, symbols: dict[str, np.ndarray]) -> torch.Tensor:
        y_sym = torch.from_numpy(symbols["y"])
        anchors = lambda s0: y_sym[anchor_mask(*y_sym.shape[-2:]).expand(y_sym.shape)].numpy()  # noqa: E731
        anchor, _, y_hat, _, m1 = self._passes(symbols["z"], tuple(y_sym.shape), anchors)
        y_hat[~anchor] = y_sym[~anchor].float() + m1
        return y_hat

    def decode_symbols(self, data: bytes, shapes: dict, coder: str = "ans") -> tuple[dict[str, np.ndarray], torch.Tensor]:
        dec = Decoder(data, coder)
        z_sym = self.z_prior.decode(dec, shape=tuple(shapes["z"]))
        anchor, sym0, y_hat, s1, m1 = self._passes(z_sym, tuple(shapes["y"]), lambda s0: self.y_prior.decode(dec, s0))
        sym1 = self.y_prior.decode(dec, s1)
        y_hat[~anchor] = torch.from_numpy(sym1.astype("float32")) + m1
        y_sym = np.zeros(tuple(shapes["y"]), np.int64)
        y_sym[anchor.numpy()], y_sym[~anchor.numpy()] = sym0, sym1
        return {"z": z_sym, "y": y_sym}, y_hat
