"""What every learned image model provides, and the padding / determinism rules they share.

A model maps an RGB tensor in [0, 1] (``1 x 3 x H x W``) to named entropy-coded chunks and
back, with a continuous quality ``q`` in [0, 1] (gain units, see :mod:`.gain`). Coding is four
separate steps, so latents can be had without pixels and pixels without re-coding::

    lat = model.latents(x, q)                 # analysis: float latents (refinement may change them)
    sym = model.symbols(lat)                  # quantization: named integer symbols
    data = model.encode_symbols(sym, coder)   # entropy coding only
    sym, y_hat = model.decode_symbols(data, shapes, coder)   # entropy decoding only
    y_hat = model.dequantize(sym)             # the same y_hat from the symbols alone
    x_hat = model.synthesise(y_hat, q)        # synthesis

``compress`` / ``decompress`` are exactly these compositions; ``forward(x, q)`` is training
(``{"x_hat", "likelihoods": {name: tensor}}``) and ``estimate_bits(x, q)`` the rate under the
integer coding tables, without coding.

Inputs are padded (replicate) to a multiple of ``stride`` and cropped back by the codec.
Everything whose result the decoder must reproduce bit for bit (entropy parameters,
synthesis) runs on one thread inside :func:`deterministic`, so the same bytes decode to the
same pixels whatever ``torch.set_num_threads`` says.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ncodec.determinism import deterministic


def pad_to(x: torch.Tensor, stride: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


class LearnedImageModel(nn.Module):
    """Base class; subclasses set ``stride`` and implement the four methods."""

    stride: int = 64
    arch: str = ""

    def config(self) -> dict:
        """What :func:`~ncodec.codecs.image.registry.build_model` needs to rebuild this model."""
        return {"arch": self.arch, "N": self.N, "M": self.M, "lambdas": list(self.gain.lambdas),
                "variable_rate": self.variable_rate}

    def latent_shapes(self, height: int, width: int) -> dict[str, list[int]]:
        """Shapes of the coded latents for a padded ``height`` x ``width`` input: ``y`` is
        downsampled 16x with M channels; models with a hyperprior add ``z`` (64x, N channels)."""
        if height % self.stride or width % self.stride:
            raise ValueError(f"{height}x{width} is not a multiple of the stride {self.stride}")
        shapes = {"y": [1, self.M, height // 16, width // 16]}
        if self.stride == 64:
            shapes["z"] = [1, self.N, height // 64, width // 64]
        return shapes

    def quality_tensor(self, q, batch: int) -> torch.Tensor:
        """Quality as a per-image tensor on the model's device."""
        return self.gain.quality_tensor(q, batch)

    @property
    def synthesis_input(self) -> nn.Module:
        """The synthesis transform's first layer (its weights read the latent channels)."""
        return self.g_s[0]

    # ---------------------------------------------------------------- the coding steps
    def latents(self, x: torch.Tensor, q: float) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def symbols(self, lat: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """The integer symbols the stream codes for latents ``lat`` (int64 arrays by name)."""
        raise NotImplementedError

    def encode_symbols(self, symbols: dict[str, np.ndarray], coder: str = "ans") -> bytes:
        raise NotImplementedError

    def decode_symbols(self, data: bytes, shapes: dict, coder: str = "ans"
                       ) -> tuple[dict[str, np.ndarray], torch.Tensor]:
        """``(symbols, y_hat)``: the coded symbols and the dequantized latent synthesis takes."""
        raise NotImplementedError

    def dequantize(self, symbols: dict[str, np.ndarray]) -> torch.Tensor:
        """``y_hat`` from the symbols alone, as :meth:`decode_symbols` returns it."""
        raise NotImplementedError

    def synthesise(self, y_hat: torch.Tensor, q: float) -> torch.Tensor:
        """``x_hat`` in [0, 1] from the dequantized latent, deterministically."""
        with deterministic():
            return self.g_s(y_hat * self.gain.inverse_gain(self.quality_tensor(q, 1))).clamp_(0, 1)

    def compress_latents(self, lat: dict[str, torch.Tensor], coder: str = "ans") -> tuple[dict[str, bytes], dict]:
        sym = self.symbols(lat)
        return {"latents": self.encode_symbols(sym, coder)}, {k: list(v.shape) for k, v in sym.items()}

    def compress(self, x: torch.Tensor, q: float, coder: str = "ans") -> tuple[dict[str, bytes], dict]:
        return self.compress_latents(self.latents(x, q), coder)

    def decompress(self, chunks: dict[str, bytes], shapes: dict, q: float, coder: str = "ans") -> torch.Tensor:
        return self.synthesise(self.decode_symbols(chunks["latents"], shapes, coder)[1], q)

    def aux_loss(self) -> torch.Tensor:
        return sum((m.aux_loss() for m in self.modules() if m is not self and hasattr(m, "aux_loss")),
                   torch.zeros(()))
