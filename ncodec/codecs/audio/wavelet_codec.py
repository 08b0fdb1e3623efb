"""The wavelet-audio codec: the wavelet-packet hyperprior (:mod:`.wavelet_model`) on the shared
audio codec frame (:mod:`.codec`: format in and out, segments).

Each segment (320 hyper-latent frames, 10.24 s at 16 kHz) is coded on its own: its
``z = h_a(y)``, its hyperprior and its own two coder flushes. **Chunks:** ``hyper`` holds every
segment's hyper-latents and ``latents`` every segment's latents, each the concatenation of
per-segment coder outputs whose sizes the header lists (``hyper_sizes``, ``latent_sizes``), so
``ncodec info`` shows what each part costs.

**Latents:** ``z`` and ``y`` (integer symbols, ``K x C x frames`` for the ``K`` coded signals
of the channel mode, :mod:`.codec`; segments concatenated in time; ``y`` at 125 frames/s, ``z`` at 31.25) and ``y_hat`` (the dequantized latent the decoder
synthesises from, in the gain-scaled units of quantization: one step = 1.0).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ncodec.codecs.audio.codec import LearnedAudioCodec, segments
from ncodec.container import Container
from ncodec.errors import CorruptStreamError
from ncodec.latents import Latents
from ncodec.media import Audio


class WaveletAudioCodec(LearnedAudioCodec):
    name = "wavelet-audio"
    arch = "wavelet"
    weights_file = "wavelet-audio-speech.safetensors"
    quality_range = (0.0, 1.0)
    default_quality = 0.5
    quality_unit = "rate knob, 0 = fewest bits"
    description = "wavelet packets + mean-scale hyperprior (after WaLLoC), 16 kHz speech, variable rate"
    segment = 320  # hyper-latent frames of 512 samples
    margin = 1024  # g_a with the packet filters reaches about 550 samples
    context = 16  # latent frames; g_s + inverse packets + post-filter reach about 6

    def decode_memory(self, c: Container) -> int:
        m = self.model
        return self._memory(c.media, c.params, 4 * (m.M * (8 + 8 + 4)) + m.N * 8)

    # ------------------------------------------------------------------ the four steps
    def analyse(self, media: Audio, quality: Optional[float] = None) -> Latents:
        import torch

        q = self.check_quality(quality)
        m = self.model
        mode = self._mode_for(media.channels)
        y = self._analysis(self._model_signal(media, mode), q)
        zs, ys = [], []
        with torch.no_grad():
            for a, b in segments(y.shape[-1] // 4, self.segment):
                y_k = y[..., 4 * a:4 * b]
                sym = m.coding.symbols(y_k, m.h_a(y_k))
                zs.append(sym["z"])
                ys.append(sym["y"])
        symbols = {"z": np.concatenate(zs, axis=-1), "y": np.concatenate(ys, axis=-1)}
        side = {"coder": self.coder, "segment": self.segment, "channels": mode}
        return self._with_y_hat(q, media.metadata(), symbols, side)

    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]:
        m = self.model
        coder, segment = latents.side.get("coder", "ans"), latents.side.get("segment", self.segment)
        z, y = latents.tensors["z"], latents.tensors["y"]
        hyper, lat = [], []
        for a, b in segments(z.shape[-1], segment):
            parts = m.coding.encode_parts({"z": z[..., a:b], "y": y[..., 4 * a:4 * b]}, coder)
            hyper.append(parts["z"])
            lat.append(parts["y"])
        params: dict[str, Any] = {"segment": segment, "hyper_sizes": [len(p) for p in hyper],
                                  "latent_sizes": [len(p) for p in lat], "delay": 0}
        if coder != "ans":
            params["coder"] = coder
        if latents.side.get("channels", "downmix") != "downmix":
            params["channels"] = latents.side["channels"]
        return {"hyper": b"".join(hyper), "latents": b"".join(lat)}, params

    def from_chunks(self, c: Container) -> Latents:
        from ncodec.entropy.coders import CODERS

        m = self.model
        _, _, frames = self._geometry(c.media)
        segment = self._segment_of(c.params)
        mode = self._mode_of(c.params, c.media["shape"][0])
        k = len(self._coded(mode, c.media["shape"][0]))
        spans = segments(frames, segment)
        coder = c.params.get("coder", "ans")
        if coder not in CODERS:
            raise CorruptStreamError(f"unknown entropy coder {coder!r}")
        pieces = {chunk: _split(c, chunk, key, len(spans), self.name)
                  for chunk, key in (("hyper", "hyper_sizes"), ("latents", "latent_sizes"))}
        zs, ys, y_hats = [], [], []
        for i, (a, b) in enumerate(spans):
            shapes = {"z": [k, m.N, b - a], "y": [k, m.M, 4 * (b - a)]}
            sym, y_hat = m.coding.decode_parts({"z": pieces["hyper"][i], "y": pieces["latents"][i]}, shapes, coder)
            zs.append(sym["z"])
            ys.append(sym["y"])
            y_hats.append(y_hat)
        symbols = {"z": np.concatenate(zs, axis=-1), "y": np.concatenate(ys, axis=-1)}
        side = {"coder": coder, "segment": segment, "channels": mode}
        return self._with_y_hat(float(c.quality), dict(c.media), symbols, side, y_hats)

    def synthesise(self, latents: Latents) -> Audio:
        import torch

        m, q = self.model, latents.quality
        x = self._windowed_synthesis(torch.from_numpy(latents.tensors["y_hat"]), lambda v: m.synthesise(v, q),
                                     m.frame, latents.side.get("segment", self.segment))
        return self._to_media(x, latents.media, latents.side.get("channels", "downmix"))

    # ------------------------------------------------------------------ helpers
    def _analysis(self, padded: np.ndarray, q: float):
        """The latent ``y`` (floats, ``K x M x frames``) of padded model-rate signals (``K x T``)."""
        m = self.model
        qv = m.gain.quality_tensor(q, len(padded))
        return self._windowed_analysis(padded, lambda x: m.analysis(x, qv), m.frame, self.segment)

    def _with_y_hat(self, q: float, media: dict, symbols: dict, side: dict, y_hats: Optional[list] = None) -> Latents:
        """The latents record; ``y_hats`` are the segments' dequantized latents when the entropy
        decoder already gave them, else they are derived from the symbols."""
        import torch

        m = self.model
        if y_hats is None:
            y_hats = [m.coding.dequantize({"z": symbols["z"][..., a:b], "y": symbols["y"][..., 4 * a:4 * b]})
                      for a, b in segments(symbols["z"].shape[-1], side["segment"])]
        y_hat = torch.cat(y_hats, dim=-1)
        tensors = {**{k: np.asarray(v, np.int64) for k, v in symbols.items()}, "y_hat": y_hat.numpy()}
        return self._latents(q, media, tensors, side)

    def estimate_bits(self, media: Audio, quality: Optional[float] = None) -> float:
        """The coded size of ``media``'s chunks (bits) under the coding tables, without coding."""
        lat = self.analyse(media, quality)
        m = self.model
        z, y = lat.tensors["z"], lat.tensors["y"]
        return sum(m.coding.bits({"z": z[..., a:b], "y": y[..., 4 * a:4 * b]})
                   for a, b in segments(z.shape[-1], lat.side["segment"]))


def _split(c: Container, chunk: str, key: str, count: int, name: str) -> list[bytes]:
    """A chunk cut into the per-segment pieces whose sizes the header lists under ``key``."""
    sizes = c.params.get(key)
    if chunk not in c.chunks:
        raise CorruptStreamError(f"{name} stream has no {chunk!r} chunk")
    if (not isinstance(sizes, list) or len(sizes) != count
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes)
            or sum(sizes) != len(c.chunks[chunk])):
        raise CorruptStreamError(f"{name} header's {key} do not match its {chunk!r} chunk")
    ends = np.cumsum([0] + sizes)
    return [c.chunks[chunk][ends[i]:ends[i + 1]] for i in range(count)]


class WaveletMusicCodec(WaveletAudioCodec):
    """The same codec with general-audio weights: 44.1 kHz, ``J = 5`` packet levels (32 bands),
    stereo as mid/side (:mod:`.codec`'s channel modes)."""

    name = "wavelet-music"
    weights_file = "wavelet-audio-music.safetensors"
    description = "wavelet packets + mean-scale hyperprior, 44.1 kHz general audio, stereo as mid/side"
    channel_mode = "auto"
    margin = 2048  # J = 5 doubles g_a's reach in samples
