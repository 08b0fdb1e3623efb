"""A hyperprior latent codec: a hyper-latent codec composed with a latent codec.

``z = h_a(y)`` is coded under a factorized prior; ``hyper = h_s(z_hat)`` drives the latent
codec that codes ``y`` (:class:`~ncodec.entropy.gaussian_latent.GaussianConditionalLatent`, or a
context model such as the image family's checkerboard). The bitstream is ``z`` then ``y`` in one
coder. Both parts hold references to modules the model owns (``z_prior``, ``h_s``, ...), so this
composition adds no parameters; it is the same for images (``N x C x H x W``) and audio
(``N x C x T``). ``h_s`` and the latent codec run inside :func:`~ncodec.determinism.deterministic`,
so the decoder reproduces the encoder's parameters bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ncodec.determinism import deterministic, exact
from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.factorized import FactorizedPrior


class HyperLatentCodec:
    """``z`` under ``prior``; :meth:`hyper` is ``h_s(z_hat)`` from ``z``'s symbols."""

    def __init__(self, prior: FactorizedPrior, h_s: nn.Module) -> None:
        self.prior, self.h_s = prior, h_s

    def hyper(self, z_sym: np.ndarray) -> torch.Tensor:
        """``h_s(z_hat)`` in float64 (:func:`~ncodec.determinism.exact`): it selects ``y``'s tables."""
        with deterministic():
            return exact(self.h_s)(self.prior.from_symbols(z_sym).double())


class HyperpriorLatentCodec:
    """``{"z", "y"}`` symbols <-> one entropy-coded chunk, through ``hyper`` and ``latent``."""

    def __init__(self, hyper: HyperLatentCodec, latent: Any) -> None:
        self.hyper, self.latent = hyper, latent

    def symbols(self, y: torch.Tensor, z: torch.Tensor) -> dict[str, np.ndarray]:
        z_sym = self.hyper.prior.to_symbols(z)
        hyper = self.hyper.hyper(z_sym)
        with deterministic():
            return {"z": z_sym, "y": self.latent.symbols(y, hyper)}

    def encode(self, symbols: dict[str, np.ndarray], coder: str = "ans") -> bytes:
        enc = Encoder(coder)
        self.hyper.prior.encode(enc, symbols["z"])
        hyper = self.hyper.hyper(symbols["z"])
        with deterministic():
            self.latent.encode(enc, symbols["y"], hyper)
        return enc.finish()

    def decode(self, data: bytes, shapes: dict, coder: str = "ans") -> tuple[dict[str, np.ndarray], torch.Tensor]:
        dec = Decoder(data, coder)
        z_sym = self.hyper.prior.decode(dec, shape=tuple(shapes["z"]))
        hyper = self.hyper.hyper(z_sym)
        with deterministic():
            y_sym, y_hat = self.latent.decode(dec, tuple(shapes["y"]), hyper)
        return {"z": z_sym, "y": y_sym}, y_hat

    def encode_parts(self, symbols: dict[str, np.ndarray], coder: str = "ans") -> dict[str, bytes]:
        """``z`` and ``y`` each in its own coder: ``{"z": bytes, "y": bytes}`` (a container can
        then show what the hyper-latents cost; about 2 x a coder's flush more than :meth:`encode`)."""
        enc = Encoder(coder)
        self.hyper.prior.encode(enc, symbols["z"])
        parts = {"z": enc.finish()}
        enc = Encoder(coder)
        hyper = self.hyper.hyper(symbols["z"])
        with deterministic():
            self.latent.encode(enc, symbols["y"], hyper)
        parts["y"] = enc.finish()
        return parts

    def decode_parts(self, parts: dict[str, bytes], shapes: dict,
                     coder: str = "ans") -> tuple[dict[str, np.ndarray], torch.Tensor]:
        """The inverse of :meth:`encode_parts`."""
        z_sym = self.hyper.prior.decode(Decoder(parts["z"], coder), shape=tuple(shapes["z"]))
        hyper = self.hyper.hyper(z_sym)
        with deterministic():
            y_sym, y_hat = self.latent.decode(Decoder(parts["y"], coder), tuple(shapes["y"]), hyper)
        return {"z": z_sym, "y": y_sym}, y_hat

    def dequantize(self, symbols: dict[str, np.ndarray]) -> torch.Tensor:
        hyper = self.hyper.hyper(symbols["z"])
        with deterministic():
            return self.latent.dequantize(symbols["y"], hyper)

    def bits(self, symbols: dict[str, np.ndarray]) -> float:
        hyper = self.hyper.hyper(symbols["z"])
        with deterministic():
            return self.hyper.prior.bits(symbols["z"]) + self.latent.bits(symbols["y"], hyper)


class HyperpriorCoding:
    """The coding steps of a hyperprior model, for models that own ``z_prior``, ``h_s`` and a
    ``latent_codec`` and give ``latents(x, q)`` (a mixin: image and audio models alike get
    ``symbols``, ``encode_symbols``, ``decode_symbols``, ``dequantize`` and ``estimate_bits``)."""

    z_prior: FactorizedPrior
    h_s: nn.Module
    latent_codec: Any

    @property
    def coding(self) -> HyperpriorLatentCodec:
        """z under the factorized prior, then y under :attr:`latent_codec` given ``h_s(z_hat)``."""
        return HyperpriorLatentCodec(HyperLatentCodec(self.z_prior, self.h_s), self.latent_codec)

    def symbols(self, lat: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        return self.coding.symbols(lat["y"].detach(), lat["z"].detach())

    def encode_symbols(self, symbols: dict[str, np.ndarray], coder: str = "ans") -> bytes:
        return self.coding.encode(symbols, coder)

    def decode_symbols(self, data: bytes, shapes: dict, coder: str = "ans") -> tuple[dict[str, np.ndarray], torch.Tensor]:
        return self.coding.decode(data, shapes, coder)

    def dequantize(self, symbols: dict[str, np.ndarray]) -> torch.Tensor:
        return self.coding.dequantize(symbols)

    def aux_loss(self) -> torch.Tensor:
        """The factorized prior's quantile loss (training fits its tails with its own optimizer)."""
        return self.z_prior.aux_loss()

    def estimate_bits(self, x: torch.Tensor, q: float) -> float:
        """The coded size of ``x`` at quality ``q`` under the coding tables, without coding
        (the model provides ``latents(x, q)``)."""
        return self.coding.bits(self.symbols(self.latents(x, q)))
