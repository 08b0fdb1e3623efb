"""The wavelet-packet hyperprior model for audio (after WaLLoC and Ballé et al.'s hyperprior).

``x`` (``B x T``, mono) -> wavelet packets (``2^J`` bands of ``T / 2^J``, :mod:`ncodec.codecs.wavelets`) ->
a shallow encoder ``g_a`` (a 1-D convolution over the bands, then three stride-2 ones:
``/8``) -> ``y`` (``M`` channels; 125 frames/s for 16 kHz and ``J = 4``), times gain units
for variable rate -> hyper-latent ``z = h_a(y)`` (``/4``: about 31 frames/s) under a factorized
prior, and ``y`` under a Gaussian whose scales and means are ``h_s(z_hat)``
(:class:`~ncodec.entropy.hyperprior_latent.HyperpriorCoding`). The decoder ``g_s`` is deeper
(transposed convolutions with residual blocks) back to the bands, then the inverse packet
transform and a short residual post-filter.

Lengths are padded by the codec to a multiple of :attr:`stride` (``2^J x 8 x 4`` samples).
"""

from __future__ import annotations

import torch
from torch import nn

from ncodec.codecs.wavelets import packet_analysis, packet_synthesis
from ncodec.codecs.gain import GainUnits
from ncodec.determinism import deterministic
from ncodec.entropy import ConditionalPrior, FactorizedPrior
from ncodec.entropy.gaussian_latent import GaussianConditionalLatent
from ncodec.entropy.hyperprior_latent import HyperpriorCoding

#: Lagrangians of the gain levels, in the training loss's units (kbit/s per unit of
#: :func:`~ncodec.codecs.audio.loss.rd_loss`'s distortion), x2.5 apart
DEFAULT_LAMBDAS = (2.0, 5.0, 12.5, 31.25, 78.0, 195.0, 488.0)


def _down(cin: int, cout: int) -> nn.Conv1d:
    return nn.Conv1d(cin, cout, 4, stride=2, padding=1)


def _up(cin: int, cout: int) -> nn.ConvTranspose1d:
    return nn.ConvTranspose1d(cin, cout, 4, stride=2, padding=1)


class ResidualBlock(nn.Module):
    """``x + conv(gelu(conv(gelu(x))))`` with kernel 3, dilation ``d``."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.GELU(), nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
                                  nn.GELU(), nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class WaveletHyperprior(HyperpriorCoding, nn.Module):
    """See the module docstring; ``C`` is the transforms' width, ``M`` / ``N`` the latent / hyper-latent channels."""

    def __init__(self, levels: int = 4, wavelet: str = "bior4.4", C: int = 96, M: int = 32, N: int = 32, *,
                 lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, variable_rate: bool = True,
                 sample_rate: int = 16_000) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)  # what the model was trained at (the codec resamples to it)
        self.levels, self.wavelet = int(levels), str(wavelet)
        self.C, self.M, self.N, self.variable_rate = int(C), int(M), int(N), bool(variable_rate)
        bands = 1 << self.levels
        self.g_a = nn.Sequential(nn.Conv1d(bands, C, 5, padding=2), nn.GELU(), _down(C, C), nn.GELU(),
                                 _down(C, C), nn.GELU(), _down(C, M))
        self.g_s = nn.Sequential(_up(M, C), ResidualBlock(C), _up(C, C), ResidualBlock(C, 2), _up(C, C),
                                 ResidualBlock(C, 4), nn.GELU(), nn.Conv1d(C, bands, 5, padding=2))
        self.post = nn.Conv1d(1, 1, 9, padding=4)
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(self.post.bias)
        self.h_a = nn.Sequential(nn.Conv1d(M, N, 3, padding=1), nn.GELU(), _down(N, N), nn.GELU(), _down(N, N))
        self.h_s = nn.Sequential(_up(N, N), nn.GELU(), _up(N, 3 * N // 2), nn.GELU(), nn.Conv1d(3 * N // 2, 2 * M, 3, padding=1))
        self.z_prior = FactorizedPrior(N)
        self.y_prior = ConditionalPrior("gaussian")
        self.latent_codec = GaussianConditionalLatent(self.y_prior, mean=True)
        self.gain = GainUnits(M, lambdas if variable_rate else (lambdas[0], lambdas[0]), spatial_dims=1)
        self.arch = "wavelet"

    @property
    def frame(self) -> int:
        """Samples per latent (``y``) frame."""
        return (1 << self.levels) * 8

    @property
    def stride(self) -> int:
        """Samples per hyper-latent frame: input lengths must be multiples of it."""
        return (1 << self.levels) * 8 * 4

    def config(self) -> dict:
        return {"arch": self.arch, "levels": self.levels, "wavelet": self.wavelet, "C": self.C, "M": self.M,
                "N": self.N, "lambdas": list(self.gain.lambdas), "variable_rate": self.variable_rate,
                "sample_rate": self.sample_rate}

    def latent_shapes(self, length: int) -> dict[str, list[int]]:
        if length % self.stride:
            raise ValueError(f"length {length} is not a multiple of the stride {self.stride}")
        return {"z": [1, self.N, length // self.stride], "y": [1, self.M, length // (self.stride // 4)]}

    # ------------------------------------------------------------------ transforms
    def analysis(self, x: torch.Tensor, qv: torch.Tensor) -> torch.Tensor:
        return self.g_a(packet_analysis(x, self.levels, self.wavelet)) * self.gain.gain(qv)

    def synthesis(self, y_hat: torch.Tensor, qv: torch.Tensor) -> torch.Tensor:
        x = packet_synthesis(self.g_s(y_hat * self.gain.inverse_gain(qv)), self.wavelet)
        return x + self.post(x[:, None])[:, 0]

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, q) -> dict:
        qv = self.gain.quality_tensor(q, x.shape[0])
        y = self.analysis(x, qv)
        z_hat, z_lik = self.z_prior(self.h_a(y))
        y_hat, y_lik = self.latent_codec.forward(y, self.h_s(z_hat), self.training)
        return {"x_hat": self.synthesis(y_hat, qv), "likelihoods": {"y": y_lik, "z": z_lik}}

    # ------------------------------------------------------------------ the coding steps (HyperpriorCoding)
    def latents(self, x: torch.Tensor, q: float) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            y = self.analysis(x, self.gain.quality_tensor(q, x.shape[0]))
            return {"y": y, "z": self.h_a(y)}

    def synthesise(self, y_hat: torch.Tensor, q: float) -> torch.Tensor:
        """``x_hat`` (``K x T``) from the dequantized latents (``K x M x F``), deterministically."""
        with deterministic():
            return self.synthesis(y_hat, self.gain.quality_tensor(q, y_hat.shape[0]))
