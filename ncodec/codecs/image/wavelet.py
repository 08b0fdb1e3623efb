"""The wavelet image model, made for learning on its latents (after WaLLoC, "Learned Compression
for Compressed Learning").

``x`` (RGB in [0, 1], minus 0.5) -> 2-D wavelet packets (``J`` levels of bior4.4:
``3 x 4^J`` subbands at ``1 / 2^J`` of the size, :mod:`ncodec.codecs.wavelets`) -> a shallow,
nearly linear encoder ``g_a`` (a 3x3 convolution, one GELU, one stride-2 convolution, a 1x1
projection) -> ``y`` with ``M`` channels at ``1 / 2^(J+1)`` of the size (``J = 2``, ``M = 12``:
12 values per 8 x 8 x 3 pixels, a 16x dimensionality reduction), times gain units for variable
rate. ``y`` is coded under a mean-scale hyperprior (``z = h_a(y)`` at a further ``/4``), as the
other hyperprior models. The decoder ``g_s`` is deeper: residual 3x3 blocks at the latent's
size and, after a stride-2 transposed convolution, at the subbands' size, then the inverse
packet transform.

The encoder is kept shallow so that ``y`` stays close to a linear, local function of the
pixels' subbands: what a classifier trained on the latents sees is the image, compressed.
"""

from __future__ import annotations

import torch
from torch import nn

from ncodec.codecs.gain import GainUnits
from ncodec.codecs.image.base import LearnedImageModel
from ncodec.codecs.image.hyperprior import DEFAULT_LAMBDAS, HyperpriorModel
from ncodec.codecs.wavelets import packet_analysis_2d, packet_synthesis_2d
from ncodec.entropy import ConditionalPrior, FactorizedPrior
from ncodec.entropy.gaussian_latent import GaussianConditionalLatent


class Packets(nn.Module):
    """``x - 0.5`` -> 2-D packets (``analysis``), or packets -> ``x + 0.5`` (synthesis)."""

    def __init__(self, levels: int, wavelet: str, inverse: bool) -> None:
        super().__init__()
        self.levels, self.wavelet, self.inverse = levels, wavelet, inverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverse:
            return packet_synthesis_2d(x, self.levels, self.wavelet) + 0.5
        return packet_analysis_2d(x - 0.5, self.levels, self.wavelet)


class Residual(nn.Module):
    """``x + conv3(gelu(conv3(gelu(x))))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.GELU(), nn.Conv2d(channels, channels, 3, padding=1), nn.GELU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class WaveletImageModel(HyperpriorModel):
    """See the module docstring. ``C``: the transforms' width; ``M`` / ``N``: latent / hyper-latent channels."""

    def __init__(self, N: int = 32, M: int = 12, *, C: int = 96, levels: int = 2, wavelet: str = "bior4.4",
                 lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, variable_rate: bool = True) -> None:
        LearnedImageModel.__init__(self)
        if not 1 <= int(levels) <= 4:
            raise ValueError(f"wavelet image model: levels must be 1..4, got {levels}")
        self.N, self.M, self.C, self.levels, self.wavelet = int(N), int(M), int(C), int(levels), str(wavelet)
        self.mean, self.variable_rate = True, bool(variable_rate)
        bands = 3 * 4 ** self.levels
        self.g_a = nn.Sequential(Packets(self.levels, self.wavelet, False), nn.Conv2d(bands, C, 3, padding=1),
                                 nn.GELU(), nn.Conv2d(C, C, 4, stride=2, padding=1), nn.Conv2d(C, M, 1))
        self.g_s = nn.Sequential(nn.Conv2d(M, C, 3, padding=1), Residual(C), Residual(C),
                                 nn.ConvTranspose2d(C, C, 4, stride=2, padding=1), Residual(C), Residual(C),
                                 nn.GELU(), nn.Conv2d(C, bands, 3, padding=1), Packets(self.levels, self.wavelet, True))
        self.h_a = nn.Sequential(nn.Conv2d(M, N, 3, padding=1), nn.GELU(), nn.Conv2d(N, N, 4, stride=2, padding=1),
                                 nn.GELU(), nn.Conv2d(N, N, 4, stride=2, padding=1))
        self.h_s = nn.Sequential(nn.ConvTranspose2d(N, N, 4, stride=2, padding=1), nn.GELU(),
                                 nn.ConvTranspose2d(N, 3 * N // 2, 4, stride=2, padding=1), nn.GELU(),
                                 nn.Conv2d(3 * N // 2, 2 * M, 3, padding=1))
        self.z_prior = FactorizedPrior(N)
        self.y_prior = ConditionalPrior("gaussian")
        self.latent_codec = GaussianConditionalLatent(self.y_prior, True)
        self.gain = GainUnits(M, lambdas if variable_rate else (lambdas[0], lambdas[0]))
        self.arch = "wavelet"

    @property
    def factor(self) -> int:
        """Pixels per latent along each side."""
        return 2 ** (self.levels + 1)

    @property
    def stride(self) -> int:  # type: ignore[override]
        return 4 * self.factor

    def config(self) -> dict:
        return {**super().config(), "C": self.C, "levels": self.levels, "wavelet": self.wavelet}

    def latent_shapes(self, height: int, width: int) -> dict[str, list[int]]:
        if height % self.stride or width % self.stride:
            raise ValueError(f"{height}x{width} is not a multiple of the stride {self.stride}")
        f = self.factor
        return {"z": [1, self.N, height // self.stride, width // self.stride], "y": [1, self.M, height // f, width // f]}

    @property
    def synthesis_input(self) -> nn.Module:
        return self.g_s[0]
