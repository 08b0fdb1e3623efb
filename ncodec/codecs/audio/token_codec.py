"""The rvq-audio codec: residual-VQ tokens (:mod:`.token_model`) entropy-coded under the learned
causal token prior (:mod:`.token_bitstream`), on the shared audio codec frame (:mod:`.codec`).

The knob is the number of codebooks ``n`` (``1..32``): ``n`` tokens a frame at 50 frames/s,
``n x 0.5`` kbit/s as fixed-length 10-bit indices at 16 kHz, fewer bits under the prior. One
chunk, ``tokens``: the whole stream's tokens in one coder (the prior's state runs through the
stream; tokens are 0.1 % of the audio's size, so decoding them all first costs no memory that
matters, and synthesis then runs in segments).

**Latents:** ``tokens`` (``1 x n x frames``, int64) and ``v_hat`` (``1 x D x frames``: the sum
of the tokens' codebook vectors, what the decoder synthesises from).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ncodec.codecs.audio.codec import LearnedAudioCodec
from ncodec.container import Container
from ncodec.errors import CorruptStreamError, QualityError
from ncodec.latents import Latents
from ncodec.media import Audio

CODEBOOKS = 32  # the token model's default K (quality_range is known without loading it)


class TokenAudioCodec(LearnedAudioCodec):
    name = "rvq-audio"
    arch = "rvq"
    weights_file = "rvq-audio-speech.safetensors"
    quality_range = (1, CODEBOOKS)
    default_quality = 12
    integer_quality = True
    quality_unit = "codebooks, 0.5 kbit/s each as fixed-length indices at 16 kHz"
    description = "residual-VQ tokens + learned causal token prior (after EnCodec), 16 kHz speech"
    segment = 512  # token frames of 320 samples: 10.24 s
    margin = 1920  # the encoder reaches about 1,000 samples
    context = 8  # token frames; the decoder reaches about 3
    feature_tensor = "v_hat"  # D x frames: the tokens' summed codebook vectors

    def decode_memory(self, c: Container) -> int:
        return self._memory(c.media, c.params, CODEBOOKS * 8 + self.model.D * 4 * 2)

    def check_quality(self, quality: Optional[float]) -> float:
        """Codebooks to code with: 1 to the model's count (the default 12, or all when it has fewer)."""
        if quality is None:
            return float(min(self.default_quality, self.model.codebooks))
        q = super().check_quality(quality)
        if q > self.model.codebooks:
            raise QualityError(f"{self.name} quality {q:g}: these weights have {self.model.codebooks} codebooks")
        return q

    def _codebooks(self, quality) -> int:
        n = int(quality)
        if not 1 <= n <= self.model.codebooks:
            raise CorruptStreamError(f"{self.name} stream uses {n} codebooks; the model has {self.model.codebooks}")
        return n

    # ------------------------------------------------------------------ the four steps
    def analyse(self, media: Audio, quality: Optional[float] = None) -> Latents:
        m = self.model
        n = int(self.check_quality(quality))
        v = self._windowed_analysis(self._model_signal(media), m.analysis, m.stride, self.segment)
        tokens = m.rvq.quantize(v, n)
        return self._with_v_hat(n, media.metadata(), tokens.numpy(), {"coder": self.coder, "segment": self.segment})

    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]:
        from ncodec.codecs.audio.token_bitstream import encode_tokens

        coder = latents.side.get("coder", "ans")
        params: dict[str, Any] = {"segment": latents.side.get("segment", self.segment), "delay": 0}
        if coder != "ans":
            params["coder"] = coder
        return {"tokens": encode_tokens(self.model, latents.tensors["tokens"][0], coder)}, params

    def from_chunks(self, c: Container) -> Latents:
        from ncodec.codecs.audio.token_bitstream import decode_tokens
        from ncodec.entropy.coders import CODERS

        _, _, frames = self._geometry(c.media)
        segment = self._segment_of(c.params)
        n = self._codebooks(c.quality)
        coder = c.params.get("coder", "ans")
        if coder not in CODERS:
            raise CorruptStreamError(f"unknown entropy coder {coder!r}")
        if "tokens" not in c.chunks:
            raise CorruptStreamError(f"{self.name} stream has no 'tokens' chunk")
        tokens = decode_tokens(self.model, c.chunks["tokens"], n, frames, coder)[None]
        return self._with_v_hat(n, dict(c.media), tokens, {"coder": coder, "segment": segment})

    def synthesise(self, latents: Latents) -> Audio:
        import torch

        m = self.model
        x = self._windowed_synthesis(torch.from_numpy(latents.tensors["v_hat"]), m.synthesise, m.stride,
                                     latents.side.get("segment", self.segment))
        return self._to_media(x, latents.media)

    # ------------------------------------------------------------------ helpers
    def _with_v_hat(self, n: int, media: dict, tokens: np.ndarray, side: dict) -> Latents:
        import torch

        v_hat = self.model.rvq.dequantize(torch.from_numpy(np.asarray(tokens, np.int64)))
        return self._latents(n, media, {"tokens": np.asarray(tokens, np.int64), "v_hat": v_hat.numpy()}, side)

    def estimate_bits(self, media: Audio, quality: Optional[float] = None) -> float:
        """The coded size of ``media``'s tokens (bits) under the prior's tables, without coding."""
        from ncodec.codecs.audio.token_bitstream import token_bits

        return token_bits(self.model, self.analyse(media, quality).tensors["tokens"][0])

    def fixed_length_bits(self, latents: Latents) -> float:
        """Bits of the same tokens as fixed-length indices (what the prior is measured against)."""
        _, n, frames = latents.tensors["tokens"].shape
        return self.model.fixed_length_bits(frames, n)
