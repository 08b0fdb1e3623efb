"""Scale hyperprior (Ballé et al. 2018) and mean-scale hyperprior (Minnen et al. 2018).

``y = g_a(x) * gain(q)``, hyper-latent ``z = h_a(y)`` (``h_a(|y|)`` for the scale model) with a
factorized prior, and ``y`` coded by a latent codec given ``h_s(z_hat)``
(:mod:`.latent_codecs`: here a Gaussian conditional whose scales, and means, are ``h_s``'s output). The transforms (:mod:`.layers`) have the layers and parameter names of
compressai's ``ScaleHyperprior`` / ``MeanScaleHyperprior``, so zoo checkpoints map onto them. Training
uses additive noise for the likelihoods and straight-through rounding for the synthesis
input ("mixed" quantization). Coding rounds ``y - mean`` and the decoder reconstructs
``round(y - mean) + mean``.
"""

from __future__ import annotations

import torch

from ncodec.codecs.image.base import LearnedImageModel
from ncodec.codecs.image.layers import hyperprior_transforms
from ncodec.codecs.gain import GainUnits
from ncodec.entropy import ConditionalPrior, FactorizedPrior
from ncodec.entropy.gaussian_latent import GaussianConditionalLatent
from ncodec.entropy.hyperprior_latent import HyperpriorCoding
from ncodec.entropy.quantization import ste_round

DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932)


class HyperpriorModel(HyperpriorCoding, LearnedImageModel):
    """``mean=False``: scale hyperprior; ``mean=True``: mean-scale hyperprior."""

    stride = 64

    def __init__(self, N: int = 128, M: int = 192, *, mean: bool = True,
                 lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, variable_rate: bool = True) -> None:
        super().__init__()
        self.N, self.M, self.mean, self.variable_rate = int(N), int(M), bool(mean), bool(variable_rate)
        self.g_a, self.g_s, self.h_a, self.h_s = hyperprior_transforms(self.N, self.M, self.mean)
        self.z_prior = FactorizedPrior(N)
        self.y_prior = ConditionalPrior("gaussian")
        #: how y is coded given h_s(z_hat); the checkerboard model plugs in its context here
        self.latent_codec = GaussianConditionalLatent(self.y_prior, self.mean)
        self.gain = GainUnits(M, lambdas if variable_rate else (lambdas[0], lambdas[0]))
        self.arch = "mean-scale-hyperprior" if mean else "scale-hyperprior"

    # ------------------------------------------------------------------ shared pieces
    def _hyper_in(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.mean else torch.abs(y)

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, q) -> dict:
        qv = self.quality_tensor(q, x.shape[0])
        y = self.g_a(x) * self.gain.gain(qv)
        z = self.h_a(self._hyper_in(y))
        z_hat, z_lik = self.z_prior(z)
        y_hat, y_lik = self.latent_codec.forward(y, self.h_s(z_hat), self.training)
        x_hat = self.g_s(y_hat * self.gain.inverse_gain(qv))
        return {"x_hat": x_hat, "likelihoods": {"y": y_lik, "z": z_lik}}

    # ------------------------------------------------------------------ latents (refinement)
    def latents(self, x: torch.Tensor, q: float) -> dict[str, torch.Tensor]:
        """What the encoder codes: ``y`` (gained) and ``z``; refinement may change them."""
        with torch.no_grad():
            y = self.g_a(x) * self.gain.gain(self.quality_tensor(q, 1))
            return {"y": y, "z": self.h_a(self._hyper_in(y))}

    def rd_terms(self, lat: dict[str, torch.Tensor], qv: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable ``(x_hat, bits)`` of given latents; ``mode`` is the rate's view of ``y``:
        ``noise`` (training proxy) or ``ste`` (rounded)."""
        y, z = lat["y"], lat["z"]
        z_hat = ste_round(z, self.z_prior.medians.view(1, -1, 1, 1))
        z_rate = z + torch.rand_like(z) - 0.5 if mode == "noise" else z_hat
        scales, means = self.latent_codec.rate_parameters(y, self.h_s(z_hat))
        y_hat = ste_round(y, means)
        y_rate = y + torch.rand_like(y) - 0.5 if mode == "noise" else y_hat
        bits = -torch.log2(self.y_prior.likelihood(y_rate, scales, means)).sum() \
            - torch.log2(self.z_prior.likelihood(z_rate)).sum()
        return self.g_s(y_hat * self.gain.inverse_gain(qv)), bits
