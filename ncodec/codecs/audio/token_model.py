"""The residual-VQ token model for audio (after SoundStream and EnCodec), with a learned token prior.

``x`` (``B x T``, mono) -> wavelet packets (``2^J`` bands, :mod:`ncodec.codecs.wavelets`) -> a convolutional
encoder (strides 2, 2, 5: 50 frames/s at 16 kHz for ``J = 4``) -> ``D``-dimensional frames ->
residual VQ (:mod:`.rvq`: ``K`` codebooks of ``V`` vectors; the first ``n`` give ``n`` tokens a
frame, ``n * log2(V) * 50`` bit/s as fixed-length indices) -> a convolutional decoder with
residual blocks -> inverse packets -> a short residual post-filter. The tokens are entropy-coded
under :class:`~.token_prior.TokenPrior`, trained beside the codec on the (detached) tokens.

Training draws a quality ``q`` in ``[0, 1]`` per item, which picks ``n = round(1 + q (K - 1))``
codebooks (quantizer dropout); the codec's knob is ``n`` itself.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ncodec.codecs.audio.rvq import ResidualVQ
from ncodec.codecs.audio.token_prior import TokenPrior
from ncodec.codecs.audio.wavelet_model import ResidualBlock
from ncodec.codecs.wavelets import packet_analysis, packet_synthesis
from ncodec.determinism import deterministic

STRIDES = (2, 2, 5)


class TokenModel(nn.Module):
    def __init__(self, levels: int = 4, wavelet: str = "bior4.4", C: int = 96, D: int = 48, codebooks: int = 32,
                 size: int = 1024, hidden: int = 256, sample_rate: int = 16_000) -> None:
        super().__init__()
        self.levels, self.wavelet, self.C, self.D = int(levels), str(wavelet), int(C), int(D)
        self.codebooks, self.size, self.hidden, self.sample_rate = int(codebooks), int(size), int(hidden), int(sample_rate)
        bands = 1 << self.levels
        enc: list[nn.Module] = [nn.Conv1d(bands, C, 5, padding=2)]
        for s in STRIDES:
            enc += [ResidualBlock(C), nn.GELU(), nn.Conv1d(C, C, 2 * s, stride=s, padding=(s + 1) // 2)]
        enc += [nn.GELU(), nn.Conv1d(C, D, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv1d(D, C, 3, padding=1)]
        for s in reversed(STRIDES):
            dec += [nn.GELU(), nn.ConvTranspose1d(C, C, 2 * s, stride=s, padding=(s + 1) // 2,
                                                output_padding=2 * ((s + 1) // 2) - s), ResidualBlock(C),
                    ResidualBlock(C, 3)]
        dec += [nn.GELU(), nn.Conv1d(C, bands, 5, padding=2)]
        self.decoder = nn.Sequential(*dec)
        self.post = nn.Conv1d(1, 1, 9, padding=4)
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(self.post.bias)
        self.rvq = ResidualVQ(D, codebooks, size)
        self.prior = TokenPrior(codebooks, size, D, hidden)
        self.arch = "rvq"

    @property
    def stride(self) -> int:
        """Samples per token frame: input lengths must be multiples of it."""
        return (1 << self.levels) * math.prod(STRIDES)

    def config(self) -> dict:
        return {"arch": self.arch, "levels": self.levels, "wavelet": self.wavelet, "C": self.C, "D": self.D,
                "codebooks": self.codebooks, "size": self.size, "hidden": self.hidden, "sample_rate": self.sample_rate}

    def codebooks_for(self, q) -> torch.Tensor:
        """``n = round(1 + q (K - 1))`` codebooks for quality ``q`` (a number or a ``B`` tensor)."""
        q = torch.as_tensor(q, dtype=torch.float32)
        return torch.round(1 + q.clamp(0, 1) * (self.codebooks - 1)).long()

    def fixed_length_bits(self, frames: int, n: int) -> float:
        """Bits of the same tokens written as fixed-length indices."""
        return frames * n * math.log2(self.size)

    # ------------------------------------------------------------------ transforms
    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(packet_analysis(x, self.levels, self.wavelet))

    def synthesis(self, v: torch.Tensor) -> torch.Tensor:
        x = packet_synthesis(self.decoder(v), self.wavelet)
        return x + self.post(x[:, None])[:, 0]

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, q) -> dict:
        n = self.codebooks_for(q).to(x.device).expand(x.shape[0]) if torch.as_tensor(q).dim() == 0 \
            else self.codebooks_for(q).to(x.device)
        v = self.analysis(x)
        v_hat, tokens, commit = self.rvq(v, n)
        logits = self.prior.logits(tokens.detach(), self.rvq.embed)  # B T K V
        used = tokens.transpose(1, 2) >= 0  # B T K
        lp = torch.log_softmax(logits, -1).gather(-1, tokens.transpose(1, 2).clamp_min(0)[..., None])[..., 0]
        bits = -(lp * used).sum((1, 2)) / math.log(2)
        return {"x_hat": self.synthesis(v_hat), "commit": commit, "token_bits": bits,
                "fixed_bits": used.sum((1, 2)).to(x.dtype) * math.log2(self.size), "codebooks": n}

    def aux_loss(self) -> torch.Tensor:
        return torch.zeros(())

    # ------------------------------------------------------------------ coding
    def tokens(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """Tokens ``1 x n x frames`` of ``x`` (``1 x T``, ``T`` a multiple of :attr:`stride`)."""
        with torch.no_grad():
            return self.rvq.quantize(self.analysis(x), n)

    def synthesise(self, v_hat: torch.Tensor) -> torch.Tensor:
        """``x_hat`` (``1 x T``) from dequantized frames (``rvq.dequantize(tokens)``), deterministically."""
        with deterministic():
            return self.synthesis(v_hat)
