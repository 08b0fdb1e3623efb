"""The learned audio codec over the wavelet-packet hyperprior (:mod:`.wavelet_model`).

Media in, media out, exactly as long and at the same sample rate and channel count as the
input. The model codes mono at its own rate (16 kHz for speech), so the codec mixes the
channels down and resamples (swresample, delay-compensated: the stream has no delay) before
analysis, and after synthesis resamples back to the input's rate and copies the mono signal
to every input channel.

**Segments.** The model-rate signal, zero-padded to a whole number of hyper-latent frames
(``stride`` samples), is cut into segments of ``segment`` hyper-latent frames (320: 10.24 s at
16 kHz; the header records it). Each segment is coded on its own (its ``z = h_a(y)``, its hyperprior, its own two
coder flushes), so memory stays bounded however long the input is. Analysis sees ``margin``
samples of the neighbouring audio on each side and synthesis ``context`` latent frames of the
neighbouring segments, then both keep only the segment's own part: the transforms' receptive
fields are shorter than the margins, so the latents and the audio are those of one long pass
(to float rounding) and segment edges leave no seams. Analysis margins beyond the signal are
zeros; synthesis windows stop at the signal's ends, as the training crops did.

**Chunks.** ``hyper`` holds every segment's hyper-latents and ``latents`` every segment's
latents, each the concatenation of per-segment coder outputs whose sizes the header lists
(``hyper_sizes``, ``latent_sizes``): ``ncodec info`` shows what each part costs.

**Latents.** ``z`` and ``y`` (integer symbols, ``1 x C x frames``, segments concatenated in
time) and ``y_hat`` (the dequantized latent the decoder synthesises from, in the gain-scaled
units of quantization: one step = 1.0).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

import numpy as np

from ncodec.codecs.base import LearnedCodec, parse_memory
from ncodec.container import Container
from ncodec.errors import CorruptStreamError, MissingWeightsError, NcodecError
from ncodec.latents import Latents
from ncodec.media import Audio
from ncodec.weights import WEIGHTS_DIR

if TYPE_CHECKING:  # torch loads with the first model, not with this module
    from ncodec.codecs.audio.wavelet_model import WaveletHyperprior

#: hyper-latent frames per coded segment (x 512 samples = 10.24 s at 16 kHz)
SEGMENT_FRAMES = 320
#: analysis context on each side of a segment (samples at the model's rate); g_a's receptive
#: field with the packet filters is about 550 samples for J = 4, bior4.4
MARGIN_SAMPLES = 1024
#: synthesis context on each side of a segment (latent frames); g_s + inverse packets + post-filter
#: reach about 6 frames
CONTEXT_FRAMES = 16
#: decode's peak memory per sample of a synthesis window at the model's rate (bytes), measured
#: at about 900 for C = 96 (see tests); a 2x margin
WINDOW_BYTES_PER_SAMPLE = 2048
MAX_SAMPLE_RATE = 768_000
MAX_SEGMENT_FRAMES = 4096


def load_model(path: Path) -> "WaveletHyperprior":
    from ncodec.checkpoint import load_weights
    from ncodec.codecs.audio.registry import build_model
    from ncodec.codecs.model_state import is_constant_buffer

    tensors, meta = load_weights(path)
    cfg = meta.get("config", {})
    if not isinstance(cfg, dict) or cfg.get("arch") != "wavelet":
        raise NcodecError(f"{path} does not hold a wavelet audio model")
    model = build_model("wavelet", **{k: v for k, v in cfg.items() if k != "arch"})
    missing, unexpected = model.load_state_dict(
        {k: v for k, v in tensors.items() if not is_constant_buffer(k)}, strict=False)
    missing = [k for k in missing if not is_constant_buffer(k)]
    if missing or unexpected:
        raise NcodecError(f"{path} does not fit the wavelet model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


class WaveletAudioCodec(LearnedCodec):
    name = "wavelet-audio"
    kind = "audio"
    quality_range = (0.0, 1.0)
    default_quality = 0.5
    quality_unit = "rate knob, 0 = fewest bits"
    description = "wavelet-packet transform + mean-scale hyperprior (after WaLLoC), 16 kHz speech, variable rate"
    version = 1
    weights_file: ClassVar[str] = "wavelet-audio-speech.safetensors"

    def __init__(self, weights: Optional[str | Path] = None, coder: str = "ans",
                 max_memory: Optional[int | str] = None) -> None:
        if max_memory is not None:
            self.max_decode_memory = parse_memory(max_memory)
        self._weights_path = Path(weights) if weights else WEIGHTS_DIR / self.weights_file
        self.coder = coder
        self._model: Optional[WaveletHyperprior] = None
        self._hash: Optional[str] = None

    @property
    def model(self) -> "WaveletHyperprior":
        if self._model is None:
            if not self._weights_path.exists():
                raise MissingWeightsError(
                    f"no weights for {self.name}: {self._weights_path} is missing. Train them with "
                    f"`ncodec train audio --arch wavelet ...` or pass weights=PATH / --weights PATH")
            from ncodec.checkpoint import weights_sha256

            self._model = load_model(self._weights_path)
            self._hash = weights_sha256(self._model.state_dict())
        return self._model

    def weights_hash(self) -> Optional[str]:
        self.model  # noqa: B018  (loads and hashes)
        return self._hash

    def settings(self) -> dict[str, Any]:
        s = {"weights": str(self._weights_path), "coder": self.coder}
        if not self._weights_path.exists():
            s["weights"] = f"missing ({self._weights_path.name})"
        return s

    # ------------------------------------------------------------------ geometry
    def _geometry(self, media: dict) -> tuple[int, int, int]:
        """``(input rate, samples at the model's rate, hyper-latent frames)`` from header media."""
        shape, rate = media.get("shape"), media.get("sample_rate")
        if (not isinstance(shape, list) or len(shape) != 2 or not all(isinstance(v, int) for v in shape)
                or not isinstance(rate, int) or not 1 <= rate <= MAX_SAMPLE_RATE or shape[1] < 1 or shape[0] < 1):
            raise CorruptStreamError(f"{self.name} header declares bad audio {shape} at {rate} Hz")
        n = max(1, round(shape[1] * self.model.sample_rate / rate))
        return rate, n, -(-n // self.model.stride)

    @staticmethod
    def _segments(frames: int, segment: int) -> list[tuple[int, int]]:
        """Hyper-latent frame ranges ``[a, b)`` of the segments."""
        return [(a, min(a + segment, frames)) for a in range(0, frames, segment)]

    def _segment_of(self, c_params: dict) -> int:
        seg = c_params.get("segment")
        if not isinstance(seg, int) or isinstance(seg, bool) or not 1 <= seg <= MAX_SEGMENT_FRAMES:
            raise CorruptStreamError(f"{self.name} header declares a bad segment length {seg!r}")
        return seg

    def decode_memory(self, c: Container) -> int:
        _, n, frames = self._geometry(c.media)
        channels, samples = c.media["shape"]
        m = self.model
        window = self._segment_of(c.params) * m.stride + 2 * CONTEXT_FRAMES * m.frame
        latents = frames * 4 * (m.M * (8 + 8 + 4) + m.N * 8)  # y, z symbols (int64) + y_hat
        output = 4 * (channels * samples + 3 * samples + 2 * n)  # channels, mono, resampling
        return window * WINDOW_BYTES_PER_SAMPLE + latents + output

    # ------------------------------------------------------------------ the four steps
    def analyse(self, media: Audio, quality: Optional[float] = None) -> Latents:
        import torch

        from ncodec.media_io.audio import resample

        q = self.check_quality(quality)
        m = self.model
        mono = media.samples.mean(axis=0, keepdims=True, dtype=np.float32)
        x = resample(mono, media.sample_rate, m.sample_rate)[0] if media.sample_rate != m.sample_rate else mono[0]
        frames = -(-len(x) // m.stride)
        padded = np.zeros(frames * m.stride, np.float32)
        padded[: len(x)] = x
        y = self._analysis(padded, q)
        zs, ys = [], []
        with torch.no_grad():
            for a, b in self._segments(frames, SEGMENT_FRAMES):
                y_k = y[..., 4 * a:4 * b]
                sym = m.coding.symbols(y_k, m.h_a(y_k))
                zs.append(sym["z"])
                ys.append(sym["y"])
        symbols = {"z": np.concatenate(zs, axis=-1), "y": np.concatenate(ys, axis=-1)}
        return self._latents(q, media.metadata(), symbols, self._dequantize(symbols, SEGMENT_FRAMES),
                             {"coder": self.coder, "segment": SEGMENT_FRAMES})

    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]:
        m = self.model
        coder = latents.side.get("coder", "ans")
        z, y = latents.tensors["z"], latents.tensors["y"]
        segment = latents.side.get("segment", SEGMENT_FRAMES)
        hyper, lat = [], []
        for a, b in self._segments(z.shape[-1], segment):
            parts = m.coding.encode_parts({"z": z[..., a:b], "y": y[..., 4 * a:4 * b]}, coder)
            hyper.append(parts["z"])
            lat.append(parts["y"])
        params: dict[str, Any] = {"segment": segment, "hyper_sizes": [len(p) for p in hyper],
                                  "latent_sizes": [len(p) for p in lat], "delay": 0}
        if coder != "ans":
            params["coder"] = coder
        return {"hyper": b"".join(hyper), "latents": b"".join(lat)}, params

    def from_chunks(self, c: Container) -> Latents:
        from ncodec.entropy.coders import CODERS

        m = self.model
        _, _, frames = self._geometry(c.media)
        segment = self._segment_of(c.params)
        segments = self._segments(frames, segment)
        coder = c.params.get("coder", "ans")
        if coder not in CODERS:
            raise CorruptStreamError(f"unknown entropy coder {coder!r}")
        pieces = {}
        for chunk, key in (("hyper", "hyper_sizes"), ("latents", "latent_sizes")):
            sizes = c.params.get(key)
            if chunk not in c.chunks:
                raise CorruptStreamError(f"{self.name} stream has no {chunk!r} chunk")
            if (not isinstance(sizes, list) or len(sizes) != len(segments)
                    or not all(isinstance(v, int) and v >= 0 for v in sizes) or sum(sizes) != len(c.chunks[chunk])):
                raise CorruptStreamError(f"{self.name} header's {key} do not match its {chunk!r} chunk")
            ends = np.cumsum([0] + sizes)
            pieces[chunk] = [c.chunks[chunk][ends[i]:ends[i + 1]] for i in range(len(sizes))]
        zs, ys = [], []
        for i, (a, b) in enumerate(segments):
            shapes = {"z": [1, m.N, b - a], "y": [1, m.M, 4 * (b - a)]}
            sym, _ = m.coding.decode_parts({"z": pieces["hyper"][i], "y": pieces["latents"][i]}, shapes, coder)
            zs.append(sym["z"])
            ys.append(sym["y"])
        symbols = {"z": np.concatenate(zs, axis=-1), "y": np.concatenate(ys, axis=-1)}
        return self._latents(float(c.quality), dict(c.media), symbols, self._dequantize(symbols, segment),
                             {"coder": coder, "segment": segment})

    def synthesise(self, latents: Latents) -> Audio:
        import torch

        from ncodec.media_io.audio import resample

        m = self.model
        rate, n, frames = self._geometry(latents.media)
        channels, samples = latents.media["shape"]
        y_hat = torch.from_numpy(latents.tensors["y_hat"])
        out = np.empty(frames * m.stride, np.float32)
        yf = 4 * frames
        for a, b in self._segments(frames, latents.side.get("segment", SEGMENT_FRAMES)):
            a, b = 4 * a, 4 * b
            w0, w1 = max(0, a - CONTEXT_FRAMES), min(yf, b + CONTEXT_FRAMES)
            x = m.synthesise(y_hat[..., w0:w1], latents.quality)[0].numpy()
            out[a * m.frame:b * m.frame] = x[(a - w0) * m.frame:(b - w0) * m.frame]
        x = out[None, :n]
        if rate != m.sample_rate:
            x = resample(x, m.sample_rate, rate)
            x = x[:, :samples] if x.shape[1] >= samples else np.pad(x, ((0, 0), (0, samples - x.shape[1])))
        x = np.clip(x, -1.0, 1.0)
        return Audio(np.ascontiguousarray(np.repeat(x, channels, axis=0), dtype=np.float32), rate)

    # ------------------------------------------------------------------ helpers
    def _analysis(self, padded: np.ndarray, q: float):
        """The latent ``y`` (floats, ``1 x M x frames``) of a padded model-rate signal, segment by
        segment, each seeing ``MARGIN_SAMPLES`` of its neighbours."""
        import torch

        m = self.model
        qv = m.gain.quality_tensor(q, 1)
        parts = []
        with torch.no_grad():
            for a, b in self._segments(len(padded) // m.stride, SEGMENT_FRAMES):
                s0, s1 = a * m.stride, b * m.stride
                window = np.zeros(s1 - s0 + 2 * MARGIN_SAMPLES, np.float32)  # zeros beyond the signal
                lo, hi = max(0, s0 - MARGIN_SAMPLES), min(len(padded), s1 + MARGIN_SAMPLES)
                window[lo - (s0 - MARGIN_SAMPLES):hi - (s0 - MARGIN_SAMPLES)] = padded[lo:hi]
                y = m.analysis(torch.from_numpy(window)[None], qv)
                parts.append(y[..., MARGIN_SAMPLES // m.frame:(MARGIN_SAMPLES + s1 - s0) // m.frame])
        return torch.cat(parts, dim=-1)

    def _dequantize(self, symbols: dict[str, np.ndarray], segment: int):
        import torch

        m = self.model
        parts = [m.coding.dequantize({"z": symbols["z"][..., a:b], "y": symbols["y"][..., 4 * a:4 * b]})
                 for a, b in self._segments(symbols["z"].shape[-1], segment)]
        return torch.cat(parts, dim=-1)

    def estimate_bits(self, media: Audio, quality: Optional[float] = None) -> float:
        """The coded size of ``media``'s chunks (bits) under the coding tables, without coding."""
        lat = self.analyse(media, quality)
        m = self.model
        z, y = lat.tensors["z"], lat.tensors["y"]
        return sum(m.coding.bits({"z": z[..., a:b], "y": y[..., 4 * a:4 * b]})
                   for a, b in self._segments(z.shape[-1], lat.side["segment"]))

    def _latents(self, q: float, media: dict, symbols: dict, y_hat, side: dict) -> Latents:
        tensors = {**{k: np.asarray(v, np.int64) for k, v in symbols.items()}, "y_hat": y_hat.numpy()}
        return Latents(self.name, float(q), media, tensors, side)
