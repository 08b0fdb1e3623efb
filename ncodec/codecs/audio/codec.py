"""What the learned audio codecs share: weights, the input's format in and out, segments.

Media in, media out, exactly as long and at the same sample rate and channel count as the
input. A model codes mono at its own rate (16 kHz for speech), so the codec mixes the channels
down and resamples (swresample, delay-compensated: the streams have no delay) before analysis,
and after synthesis resamples back to the input's rate and copies the mono signal to every
input channel.

**Segments.** The model-rate signal, zero-padded to a whole number of model strides, is
analysed and synthesised in segments of ``segment`` strides (about 10 s; the header records
it), so memory stays bounded however long the input is. Analysis sees ``margin`` samples of the
neighbouring audio on each side (zeros beyond the signal) and synthesis ``context`` latent
frames of the neighbouring segments, then both keep only the segment's own part. The
transforms' receptive fields are shorter than the margins, so the latents and the audio are
those of one long pass (to float rounding) and segment edges leave no seams; only the
periodized packet transform's wrap-around at each window's ends touches the first and last
64 ms of the signal, the same way for every decoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional

import numpy as np

from ncodec.codecs.base import LearnedCodec, WeightsFile, parse_memory
from ncodec.errors import CorruptStreamError, NcodecError
from ncodec.latents import Latents
from ncodec.media import Audio
from ncodec.weights import WEIGHTS_DIR

if TYPE_CHECKING:  # torch loads with the first model, not with this module
    import torch

MAX_SAMPLE_RATE = 768_000
MAX_SEGMENT = 4096
#: decode's peak memory per sample of a synthesis window at the model's rate (bytes): measured
#: about 150 for the wavelet model with C = 96 (peak RSS growth decoding 10.24 s and 60 s); a 3x margin
WINDOW_BYTES_PER_SAMPLE = 512


def load_model(arch: str, path: Path):
    from ncodec.checkpoint import load_weights
    from ncodec.codecs.audio.registry import build_model
    from ncodec.codecs.model_state import load_learned

    tensors, meta = load_weights(path)
    cfg = meta.get("config", {})
    if not isinstance(cfg, dict) or cfg.get("arch") != arch:
        raise NcodecError(f"{path} does not hold a {arch} audio model")
    return load_learned(build_model(arch, **{k: v for k, v in cfg.items() if k != "arch"}), tensors, path)


def segments(frames: int, segment: int) -> list[tuple[int, int]]:
    """Stride ranges ``[a, b)`` of the segments of a signal ``frames`` strides long."""
    return [(a, min(a + segment, frames)) for a in range(0, frames, segment)]


class LearnedAudioCodec(WeightsFile, LearnedCodec):
    kind = "audio"
    version = 1
    arch: ClassVar[str] = ""
    weights_file: ClassVar[str] = ""
    #: segment length in model strides, analysis margin (samples), synthesis context (latent frames)
    segment: ClassVar[int] = 320
    margin: ClassVar[int] = 1024
    context: ClassVar[int] = 16

    @classmethod
    def shipped_weights(cls) -> Path:
        """The weights file the package ships for this codec (may be absent)."""
        return WEIGHTS_DIR / cls.weights_file

    def __init__(self, weights: Optional[str | Path] = None, coder: str = "ans",
                 max_memory: Optional[int | str] = None) -> None:
        if max_memory is not None:
            self.max_decode_memory = parse_memory(max_memory)
        self._weights_path = Path(weights) if weights else self.shipped_weights()
        self.coder = coder

    def _load_model(self, path: Path):
        return load_model(self.arch, path)

    def _model_hash(self, model) -> str:
        from ncodec.checkpoint import weights_sha256
        from ncodec.codecs.model_state import learned_state

        # what the file holds (training-only buffers such as the VQ's running averages are not in it)
        return weights_sha256(learned_state(model))

    def settings(self) -> dict[str, Any]:
        return {"arch": self.arch, "weights": self.weights_setting(), "coder": self.coder}

    # ------------------------------------------------------------------ geometry
    def _geometry(self, media: dict) -> tuple[int, int, int]:
        """``(input rate, samples at the model's rate, model strides)`` from header media."""
        shape, rate = media.get("shape"), media.get("sample_rate")
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
                or not isinstance(rate, int) or not 1 <= rate <= MAX_SAMPLE_RATE or shape[1] < 1 or shape[0] < 1):
            raise CorruptStreamError(f"{self.name} header declares bad audio {shape} at {rate} Hz")
        n = max(1, round(shape[1] * self.model.sample_rate / rate))
        return rate, n, -(-n // self.model.stride)

    def _segment_of(self, params: dict) -> int:
        seg = params.get("segment")
        if not isinstance(seg, int) or isinstance(seg, bool) or not 1 <= seg <= MAX_SEGMENT:
            raise CorruptStreamError(f"{self.name} header declares a bad segment length {seg!r}")
        return seg

    def _memory(self, media: dict, params: dict, latent_bytes_per_stride: int) -> int:
        """Peak decode bytes: one synthesis window, the latents, the output and its copies."""
        _, n, frames = self._geometry(media)
        channels, samples = media["shape"]
        m = self.model
        window = self._segment_of(params) * m.stride + 2 * self.margin
        output = 4 * (channels * samples + 3 * samples + 2 * n)  # channels, mono, resampling
        return window * WINDOW_BYTES_PER_SAMPLE + frames * latent_bytes_per_stride + output

    # ------------------------------------------------------------------ in and out
    def _model_signal(self, media: Audio) -> np.ndarray:
        """Mono at the model's rate, zero-padded to a whole number of strides."""
        from ncodec.media_io.audio import resample

        m = self.model
        mono = media.samples.mean(axis=0, keepdims=True, dtype=np.float32)
        x = resample(mono, media.sample_rate, m.sample_rate)[0] if media.sample_rate != m.sample_rate else mono[0]
        padded = np.zeros(-(-len(x) // m.stride) * m.stride, np.float32)
        padded[: len(x)] = x
        return padded

    def _to_media(self, x: np.ndarray, media: dict) -> Audio:
        """Model-rate mono samples -> the header's rate, length and channels."""
        from ncodec.media_io.audio import resample

        rate, n, _ = self._geometry(media)
        channels, samples = media["shape"]
        y = x[None, :n]
        if rate != self.model.sample_rate:
            y = resample(y, self.model.sample_rate, rate)
            y = y[:, :samples] if y.shape[1] >= samples else np.pad(y, ((0, 0), (0, samples - y.shape[1])))
        y = np.clip(y, -1.0, 1.0)
        return Audio(np.ascontiguousarray(np.repeat(y, channels, axis=0), dtype=np.float32), rate)

    def _windowed_analysis(self, padded: np.ndarray, analysis: Callable[["torch.Tensor"], "torch.Tensor"],
                           frame: int, segment: int) -> "torch.Tensor":
        """``analysis`` (``1 x T`` samples -> ``1 x C x T / frame``) segment by segment, each window
        with ``margin`` samples of its neighbours (zeros beyond the signal); frames concatenated."""
        import torch

        stride, parts = self.model.stride, []
        with torch.no_grad():
            for a, b in segments(len(padded) // stride, segment):
                s0, s1 = a * stride, b * stride
                window = np.zeros(s1 - s0 + 2 * self.margin, np.float32)
                lo, hi = max(0, s0 - self.margin), min(len(padded), s1 + self.margin)
                window[lo - (s0 - self.margin):hi - (s0 - self.margin)] = padded[lo:hi]
                v = analysis(torch.from_numpy(window)[None])
                parts.append(v[..., self.margin // frame:(self.margin + s1 - s0) // frame])
        return torch.cat(parts, dim=-1)

    def _windowed_synthesis(self, v: "torch.Tensor", synthesis: Callable[["torch.Tensor"], "torch.Tensor"],
                            frame: int, segment: int) -> np.ndarray:
        """``synthesis`` (latent frames ``... x F`` -> ``1 x F * frame`` samples) segment by segment,
        each window with ``context`` frames of its neighbours (stopping at the signal's ends)."""
        stride = self.model.stride
        per = stride // frame  # latent frames per stride
        total = v.shape[-1]
        out = np.empty(total * frame, np.float32)
        for a, b in segments(total // per, segment):
            a, b = a * per, b * per
            w0, w1 = max(0, a - self.context), min(total, b + self.context)
            x = synthesis(v[..., w0:w1])[0].numpy()
            out[a * frame:b * frame] = x[(a - w0) * frame:(b - w0) * frame]
        return out

    def _latents(self, q: float, media: dict, tensors: dict, side: dict) -> Latents:
        return Latents(self.name, float(q), media, tensors, side)
