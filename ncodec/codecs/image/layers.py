"""Building blocks of the learned image transforms: strided convolutions, GDN, and the analysis /
synthesis stacks of the factorized, scale-hyperprior and mean-scale-hyperprior models.

Module structure, parameter and buffer names, initialisation and float maths follow CompressAI's
(``compressai.layers.GDN``, ``compressai.models.google``), so weights trained with either load
into the other unchanged (``g_a.0.weight``, ``g_a.1.beta``, ``g_a.1.beta_reparam.pedestal``, ...)
and give bit-identical outputs -- without importing compressai, whose import alone takes seconds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ncodec.entropy.factorized import EntropyBottleneck, LowerBound

#: offset of GDN's non-negative reparametrization (``2^-18``); its square is the pedestal
REPARAM_OFFSET = 2.0 ** -18


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """``kernel_size`` convolution with "same" padding (``kernel_size // 2``), downsampling by ``stride``."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                     padding=kernel_size // 2)


def deconv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution that upsamples exactly ``stride`` times (``output_padding = stride - 1``)."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                              output_padding=stride - 1, padding=kernel_size // 2)


class NonNegativeParametrizer(nn.Module):
    """Keeps a parameter ``p`` non-negative (and ``>= minimum``) through ``v = max(p, b)^2 - o^2``.

    ``o = 2^-18`` (``pedestal = o^2``) keeps the gradient of ``v`` near zero from vanishing, and
    ``b = sqrt(minimum + o^2)`` makes ``v >= minimum``. :meth:`init` inverts the map:
    ``p = sqrt(max(v + o^2, o^2))``.
    """

    pedestal: torch.Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = REPARAM_OFFSET) -> None:
        super().__init__()
        self.minimum = float(minimum)
        self.reparam_offset = float(reparam_offset)
        self.register_buffer("pedestal", torch.Tensor([self.reparam_offset ** 2]))
        self.lower_bound = LowerBound((self.minimum + self.reparam_offset ** 2) ** 0.5)

    def init(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.max(v + self.pedestal, self.pedestal))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(p) ** 2 - self.pedestal


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016) and, with ``inverse``, its inverse:

    ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)`` (GDN),
    ``y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)`` (IGDN),

    with ``beta >= beta_min`` and ``gamma >= 0`` kept by :class:`NonNegativeParametrizer`;
    initialised to ``beta = 1``, ``gamma = gamma_init * I``. The sum is a 1x1 convolution of
    ``x^2`` with weight ``gamma`` (out x in) and bias ``beta``.
    """

    def __init__(self, in_channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegativeParametrizer(minimum=float(beta_min))
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(in_channels)))
        self.gamma_reparam = NonNegativeParametrizer()
        self.gamma = nn.Parameter(self.gamma_reparam.init(float(gamma_init) * torch.eye(in_channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(c, c, 1, 1)
        norm = F.conv2d(x ** 2, gamma, beta)
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


# ---------------------------------------------------------------------- transforms
# Random initialisation draws exactly the numbers that compressai's model constructors drew,
# including those for the modules ncodec used to throw away (each model's own entropy
# bottleneck, built first; the scale hyperprior's h_a / h_s that the mean-scale model replaces),
# so a model built after ``torch.manual_seed(s)`` has the same parameters as before.
def analysis(N: int, M: int) -> nn.Sequential:
    """``g_a``: 3 -> M channels, 16x down: four 5x5 stride-2 convolutions with GDN between."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis(N: int, M: int) -> nn.Sequential:
    """``g_s``: M -> 3 channels, 16x up: four 5x5 stride-2 transposed convolutions with IGDN between."""
    return nn.Sequential(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, N), GDN(N, inverse=True), deconv(N, 3))


def scale_hyper_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(h_a, h_s)`` of the scale hyperprior (``bmshj2018-hyperprior``), ReLU activations:
    ``h_a``: M -> N, 4x down (3x3 stride 1, then two 5x5 stride 2);
    ``h_s``: N -> M scales, 4x up (two 5x5 stride-2 transposed, 3x3 stride 1, final ReLU)."""
    h_a = nn.Sequential(conv(M, N, stride=1, kernel_size=3), nn.ReLU(inplace=True),
                        conv(N, N), nn.ReLU(inplace=True), conv(N, N))
    h_s = nn.Sequential(deconv(N, N), nn.ReLU(inplace=True), deconv(N, N), nn.ReLU(inplace=True),
                        conv(N, M, stride=1, kernel_size=3), nn.ReLU(inplace=True))
    return h_a, h_s


def mean_scale_hyper_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(h_a, h_s)`` of the mean-scale hyperprior (``mbt2018-mean``), LeakyReLU activations:
    ``h_a`` as the scale model's; ``h_s``: N -> M -> 3M/2 -> 2M (scales and means), no final activation."""
    h_a = nn.Sequential(conv(M, N, stride=1, kernel_size=3), nn.LeakyReLU(inplace=True),
                        conv(N, N), nn.LeakyReLU(inplace=True), conv(N, N))
    h_s = nn.Sequential(deconv(N, M), nn.LeakyReLU(inplace=True), deconv(M, M * 3 // 2),
                        nn.LeakyReLU(inplace=True), conv(M * 3 // 2, M * 2, stride=1, kernel_size=3))
    return h_a, h_s


def factorized_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(g_a, g_s)`` of the factorized-prior model (CompressAI's ``bmshj2018-factorized``)."""
    EntropyBottleneck(M)  # drawn, not kept (see above)
    return analysis(N, M), synthesis(N, M)


def hyperprior_transforms(N: int, M: int, mean: bool) -> tuple[nn.Sequential, ...]:
    """``(g_a, g_s, h_a, h_s)`` of the scale (``mean=False``) or mean-scale hyperprior."""
    EntropyBottleneck(N)  # drawn, not kept (see above)
    g_a, g_s = analysis(N, M), synthesis(N, M)
    h_a, h_s = scale_hyper_transforms(N, M)
    if mean:  # drawn after the scale model's, which it replaces
        h_a, h_s = mean_scale_hyper_transforms(N, M)
    return g_a, g_s, h_a, h_s
