"""Factorized-prior image model (Ballé et al. 2017/2018): ``y = g_a(x)`` coded with one learned
density per channel, no side information. The transforms (:mod:`.layers`) have the layers and
parameter names of compressai's ``FactorizedPrior``, so ``bmshj2018-factorized`` checkpoints map
onto it."""

from __future__ import annotations

import numpy as np
import torch

from ncodec.codecs.image.base import LearnedImageModel
from ncodec.codecs.image.layers import factorized_transforms
from ncodec.determinism import deterministic
from ncodec.codecs.gain import GainUnits
from ncodec.codecs.image.hyperprior import DEFAULT_LAMBDAS
from ncodec.entropy import Decoder, Encoder, FactorizedPrior
from ncodec.entropy.quantization import ste_round


class FactorizedModel(LearnedImageModel):
    stride = 16

    def __init__(self, N: int = 128, M: int = 192, *, lambdas: tuple[float, ...] = DEFAULT_LAMBDAS,
                 variable_rate: bool = True) -> None:
        super().__init__()
        self.N, self.M, self.variable_rate = int(N), int(M), bool(variable_rate)
        self.g_a, self.g_s = factorized_transforms(self.N, self.M)
        self.y_prior = FactorizedPrior(M)
        self.gain = GainUnits(M, lambdas if variable_rate else (lambdas[0], lambdas[0]))
        self.arch = "factorized"

    def forward(self, x: torch.Tensor, q) -> dict:
        qv = self.quality_tensor(q, x.shape[0])
        y = self.g_a(x) * self.gain.gain(qv)
        y_hat, y_lik = self.y_prior(y)
        if self.training:  # straight-through rounded latents for the synthesis
            med = self.y_prior.medians.view(1, -1, 1, 1)
            y_hat = ste_round(y, med)
        return {"x_hat": self.g_s(y_hat * self.gain.inverse_gain(qv)), "likelihoods": {"y": y_lik}}

    def latents(self, x: torch.Tensor, q: float) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {"y": self.g_a(x) * self.gain.gain(self.quality_tensor(q, 1))}

    def rd_terms(self, lat: dict[str, torch.Tensor], qv: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        y = lat["y"]
        y_hat = ste_round(y, self.y_prior.medians.view(1, -1, 1, 1))
        y_rate = y + torch.rand_like(y) - 0.5 if mode == "noise" else y_hat
        bits = -torch.log2(self.y_prior.likelihood(y_rate)).sum()
        return self.g_s(y_hat * self.gain.inverse_gain(qv)), bits

    def symbols(self, lat: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        return {"y": self.y_prior.to_symbols(lat["y"].detach())}

    def encode_symbols(self, symbols: dict[str, np.ndarray], coder: str = "ans") -> bytes:
        enc = Encoder(coder)
        self.y_prior.encode(enc, symbols["y"])
        return enc.finish()

    def estimate_bits(self, x: torch.Tensor, q: float) -> float:
        return self.y_prior.bits(self.symbols(self.latents(x, q))["y"])

    def dequantize(self, symbols: dict[str, np.ndarray]) -> torch.Tensor:
        with deterministic():
            return self.y_prior.from_symbols(symbols["y"])

    def decode_symbols(self, data: bytes, shapes: dict, coder: str = "ans") -> tuple[dict[str, np.ndarray], torch.Tensor]:
        sym = self.y_prior.decode(Decoder(data, coder), shape=tuple(shapes["y"]))
        with deterministic():
            return {"y": sym}, self.y_prior.from_symbols(sym)
