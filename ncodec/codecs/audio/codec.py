"""What the learned audio codecs share: weights, the input's format in and out, segments.

Media in, media out, exactly as long and at the same sample rate and channel count as the
input. A model codes mono signals at its own rate (16 kHz for speech, 44.1 kHz for general
audio): the codec turns the input's channels into ``K`` such signals, resamples them
(swresample, delay-compensated: the streams have no delay) before analysis, and after synthesis
resamples back to the input's rate and rebuilds the channels. **Channel modes** (the header's
``channels``; absent means ``downmix``):

- ``downmix``: one signal, the channels' mean; decoded to every channel (the speech codecs).
- ``mid-side``: stereo as ``M = (L + R) / 2`` and ``S = (L - R) / 2``, decoded as
  ``L = M + S``, ``R = M - S``. Both go through the model at the same quality, as a batch of
  two: a near-mono recording's small ``S`` costs few bits because its hyperprior says so.
- ``separate``: every channel on its own (mono, or more than two channels).

Codecs whose :attr:`~LearnedAudioCodec.channel_mode` is ``"auto"`` code stereo as mid/side and
other counts channel by channel; ``"downmix"`` codecs always mix down.

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
CHANNEL_MODES = ("downmix", "mid-side", "separate")
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
    #: ``"downmix"`` or ``"auto"`` (see the module docstring)
    channel_mode: ClassVar[str] = "downmix"

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
        """Peak decode bytes: one synthesis window, the latents, the output and its copies (per
        coded signal)."""
        _, n, frames = self._geometry(media)
        channels, samples = media["shape"]
        k = len(self._coded(self._mode_of(params, channels), channels))
        m = self.model
        window = self._segment_of(params) * m.stride + 2 * self.margin
        output = 4 * (2 * channels * samples + k * (samples + 2 * n))  # channels, signals, resampling
        return k * (window * WINDOW_BYTES_PER_SAMPLE + frames * latent_bytes_per_stride) + output

    # ------------------------------------------------------------------ channels
    def _mode_for(self, channels: int) -> str:
        """The channel mode this codec codes ``channels`` input channels with."""
        if self.channel_mode == "downmix" or channels == 1:  # a mono input's downmix is itself
            return "downmix"
        return "mid-side" if channels == 2 else "separate"

    def _mode_of(self, params: dict, channels: int) -> str:
        """A stream's channel mode, checked against its channel count."""
        mode = params.get("channels", "downmix")
        if mode not in CHANNEL_MODES or (mode == "mid-side" and channels != 2):
            raise CorruptStreamError(f"{self.name} header declares channel mode {mode!r} for {channels} channels")
        return mode

    @staticmethod
    def _coded(mode: str, channels: int) -> range:
        """The coded signals' indexes: one for a downmix, else one per channel."""
        return range(1 if mode == "downmix" else channels)

    # ------------------------------------------------------------------ in and out
    def _model_signal(self, media: Audio, mode: str = "downmix") -> np.ndarray:
        """The ``K`` signals of ``mode`` at the model's rate (``K x T``), zero-padded to a whole
        number of strides."""
        from ncodec.media_io.audio import resample

        m = self.model
        s = np.asarray(media.samples, np.float32)
        if mode == "downmix":
            sig = s.mean(axis=0, keepdims=True, dtype=np.float32)
        elif mode == "mid-side":
            sig = np.stack([(s[0] + s[1]) * 0.5, (s[0] - s[1]) * 0.5]).astype(np.float32)
        else:
            sig = s
        x = resample(sig, media.sample_rate, m.sample_rate) if media.sample_rate != m.sample_rate else sig
        padded = np.zeros((x.shape[0], -(-x.shape[1] // m.stride) * m.stride), np.float32)
        padded[:, : x.shape[1]] = x
        return padded

    def _to_media(self, x: np.ndarray, media: dict, mode: str = "downmix") -> Audio:
        """Model-rate signals (``K x T``) -> the header's rate, length and channels."""
        from ncodec.media_io.audio import resample

        rate, n, _ = self._geometry(media)
        channels, samples = media["shape"]
        y = x[:, :n]
        if rate != self.model.sample_rate:
            y = resample(y, self.model.sample_rate, rate)
            y = y[:, :samples] if y.shape[1] >= samples else np.pad(y, ((0, 0), (0, samples - y.shape[1])))
        if mode == "downmix":
            y = np.repeat(y, channels, axis=0)
        elif mode == "mid-side":
            y = np.stack([y[0] + y[1], y[0] - y[1]])
        return Audio(np.ascontiguousarray(np.clip(y, -1.0, 1.0), dtype=np.float32), rate)

    def _windowed_analysis(self, padded: np.ndarray, analysis: Callable[["torch.Tensor"], "torch.Tensor"],
                           frame: int, segment: int) -> "torch.Tensor":
        """``analysis`` (``K x T`` samples -> ``K x C x T / frame``) segment by segment, each window
        with ``margin`` samples of its neighbours (zeros beyond the signal); frames concatenated."""
        import torch

        stride, parts = self.model.stride, []
        k, length = padded.shape
        with torch.no_grad():
            for a, b in segments(length // stride, segment):
                s0, s1 = a * stride, b * stride
                window = np.zeros((k, s1 - s0 + 2 * self.margin), np.float32)
                lo, hi = max(0, s0 - self.margin), min(length, s1 + self.margin)
                window[:, lo - (s0 - self.margin):hi - (s0 - self.margin)] = padded[:, lo:hi]
                v = analysis(torch.from_numpy(window))
                parts.append(v[..., self.margin // frame:(self.margin + s1 - s0) // frame])
        return torch.cat(parts, dim=-1)

    def _windowed_synthesis(self, v: "torch.Tensor", synthesis: Callable[["torch.Tensor"], "torch.Tensor"],
                            frame: int, segment: int) -> np.ndarray:
        """``synthesis`` (latent frames ``K x ... x F`` -> ``K x F * frame`` samples) segment by
        segment, each window with ``context`` frames of its neighbours (stopping at the signal's ends)."""
        stride = self.model.stride
        per = stride // frame  # latent frames per stride
        total = v.shape[-1]
        out = np.empty((v.shape[0], total * frame), np.float32)
        for a, b in segments(total // per, segment):
            a, b = a * per, b * per
            w0, w1 = max(0, a - self.context), min(total, b + self.context)
            x = synthesis(v[..., w0:w1]).numpy()
            out[:, a * frame:b * frame] = x[:, (a - w0) * frame:(b - w0) * frame]
        return out

    def _latents(self, q: float, media: dict, tensors: dict, side: dict) -> Latents:
        return Latents(self.name, float(q), media, tensors, side)
