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

from torch import nn

from ncodec.codecs.image.hyperprior import DEFAULT_LAMBDAS, HyperpriorModel
from ncodec.codecs.image.latent_codecs import CheckerboardContext, CheckerboardLatent


class CheckerboardModel(HyperpriorModel):
    """The mean-scale hyperprior with :class:`~.latent_codecs.CheckerboardLatent` as its latent codec."""

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
        self.latent_codec = CheckerboardLatent(self.y_prior, self.context, self.entropy_net)

    @property
    def parameter_head(self) -> nn.Conv2d:
        """The entropy network's last layer: output channels ``0..M-1`` are the scales, ``M..2M-1`` the means."""
        return self.entropy_net[-1]
