"""Classical audio codecs through PyAV (FFmpeg): Opus, AAC, MP3 and FLAC.

Each codec stores the encoded file as one chunk, ``bitstream``: Ogg Opus (``.opus``),
ADTS AAC (``.aac``), MP3 (``.mp3``) or native FLAC (``.flac``), playable on its own.

Quality: the bitrate in kbit/s for the lossy codecs (larger is better), the FLAC
compression level 0..12 for ``flac`` (lossless at every level).

Every decoder returns exactly the input's sample rate, channel count and number of
samples:

* **Sample rates.** Opus codes 8/12/16/24/48 kHz, AAC the 13 MPEG-4 rates, MP3 the 9
  MPEG-1/2/2.5 rates. Other rates are resampled (swresample) to the smallest allowed rate
  above them (at most 48 kHz; 44.1 kHz becomes 48 kHz for Opus) and back after decoding.
  MP3 at bitrates below 32 kbit/s, which MPEG-1 rates cannot carry, is coded at half the
  rate (MPEG-2), as LAME's own front end does. ``params`` records ``coded_sample_rate``.
* **Encoder delay.** The priming samples an encoder prepends are read from the first
  packet's timestamp (FFmpeg gives it as ``-initial_padding``) and recorded in
  ``params['encoder_delay']``. Where the file format itself signals them -- the Ogg Opus
  pre-skip field and the LAME/Xing gapless header of MP3, both applied by FFmpeg's
  demuxers -- the decoder trims nothing more; ADTS has no such field, so the AAC decoder
  trims ``params['trim_start']`` = the recorded delay itself. The end is cut to the
  recorded number of coded samples. Nothing is guessed.
* **Channels.** Mono and stereo; more channels raise :class:`MediaError`.

FLAC quantises its float input to 16 bits (``round(x * 32768)``, clipped) and records
``bits_per_sample = 16``; 16-bit content (anything read from a 16-bit WAV / FLAC, or
values ``k / 32768``) round-trips exactly.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any, ClassVar, Optional

import numpy as np

from ncodec.codecs.base import Codec
from ncodec.container import Container
from ncodec.errors import CorruptStreamError, MediaError
from ncodec.media import Audio

CHUNK = "bitstream"
_LAYOUTS = {1: "mono", 2: "stereo"}


def _allowed_rate(sr: int, allowed: tuple[int, ...]) -> int:
    """The smallest allowed rate >= sr, else the largest allowed rate."""
    if sr in allowed:
        return sr
    above = [r for r in sorted(allowed) if r >= sr]
    return above[0] if above else max(allowed)


def _to_format(x: np.ndarray, fmt: str) -> np.ndarray:
    """``channels x n`` float32 -> the array ``av.AudioFrame.from_ndarray`` wants for ``fmt``."""
    planar = fmt.endswith("p")
    base = fmt.rstrip("p")
    if base == "flt":
        a = np.ascontiguousarray(x, dtype=np.float32)
    elif base == "s16":
        a = np.clip(np.rint(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    elif base == "s32":
        a = np.clip(np.rint(x.astype(np.float64) * 2147483648.0), -2147483648, 2147483647).astype(np.int32)
    else:  # pragma: no cover - not chosen by any codec here
        raise MediaError(f"unsupported encoder sample format {fmt}")
    if not planar:
        a = np.ascontiguousarray(a.T.reshape(1, -1))
    return np.ascontiguousarray(a)


class _AVAudioCodec(Codec):
    """Shared PyAV plumbing; subclasses name the encoder, the file format and the options."""

    kind = "audio"
    quality_is_rate = True  # kbit/s (FLAC overrides: compression level)
    encoder: ClassVar[str]
    muxer: ClassVar[str]
    extension: ClassVar[str]
    sample_format: ClassVar[str]
    allowed_rates: ClassVar[Optional[tuple[int, ...]]] = None
    #: True when the file format carries the encoder delay and FFmpeg's demuxer removes it.
    container_trims_delay: ClassVar[bool] = False
    delay_signalled_by: ClassVar[str] = "nothing (trimmed by ncodec from params)"
    muxer_options: ClassVar[dict[str, str]] = {}
    integer_quality = False

    # ------------------------------------------------------------------ hooks
    def _coded_rate(self, sr: int, quality: float) -> int:
        return sr if self.allowed_rates is None else _allowed_rate(sr, self.allowed_rates)

    def _bit_rate(self, quality: float, rate: int, channels: int) -> Optional[int]:
        return int(round(quality * 1000))

    def _options(self, quality: float) -> dict[str, str]:
        return {}

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return x

    def settings(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "format": self.muxer, "sample_format": self.sample_format,
                "sample_rates": list(self.allowed_rates) if self.allowed_rates else "any",
                "channels": [1, 2], "delay_signalled_by": self.delay_signalled_by,
                **self._options(self.default_quality)}

    def payload_bytes(self, container: Container) -> int:
        """The encoder's packets as FFmpeg's demuxer returns them: Ogg pages and the Opus header
        packets are left out (measured: 356 of 2,412 bytes for 3 s of speech at 6 kbit/s), ADTS
        frames keep their 7-byte headers, MP3 frames theirs."""
        import av

        data = container.chunks.get(CHUNK, b"")
        try:
            with av.open(io.BytesIO(data), format=self.muxer) as f:
                return sum(p.size for p in f.demux(f.streams.audio[0]) if p.size)
        except (av.FFmpegError, IndexError, ValueError) as exc:
            raise CorruptStreamError(f"{self.name} payload is corrupt: {exc}") from None

    # ------------------------------------------------------------------ encode
    def _encode(self, media: Audio, quality: float) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any]]:
        import av

        from ncodec.media_io.audio import resample

        if media.channels not in _LAYOUTS:
            raise MediaError(f"{self.name} codes mono or stereo audio; this audio has {media.channels} channels "
                             "(downmix it first, e.g. read_audio(path, mono=True))")
        sr = media.sample_rate
        layout = _LAYOUTS[media.channels]
        rate = self._coded_rate(sr, quality)
        x = np.clip(media.samples, -1.0, 1.0)
        if rate != sr:
            x = resample(x, sr, rate)
        x = self._prepare(x)
        n_coded = x.shape[1]
        bit_rate = self._bit_rate(quality, rate, media.channels)
        opts = self._options(quality)
        buf = io.BytesIO()
        first_pts: Optional[float] = None  # seconds
        try:
            with av.open(buf, mode="w", format=self.muxer,
                         options={"fflags": "+bitexact", **self.muxer_options}) as out:
                stream = out.add_stream(self.encoder, rate=rate, layout=layout, options=dict(opts))
                cc = stream.codec_context
                cc.format = self.sample_format
                if bit_rate is not None:
                    cc.bit_rate = bit_rate
                cc.open()
                frame_size = cc.frame_size or 4096
                data = _to_format(x, self.sample_format)
                per = media.channels if not self.sample_format.endswith("p") else 1
                for s in range(0, n_coded, frame_size):
                    chunk = data[:, s * per:(s + frame_size) * per]
                    frame = av.AudioFrame.from_ndarray(chunk, format=self.sample_format, layout=layout)
                    frame.sample_rate = rate
                    frame.pts = s
                    for pkt in stream.encode(frame):
                        if first_pts is None and pkt.pts is not None:
                            first_pts = float(pkt.pts * (pkt.time_base or Fraction(1, rate)))
                        out.mux(pkt)
                for pkt in stream.encode(None):
                    if first_pts is None and pkt.pts is not None:
                        first_pts = float(pkt.pts * (pkt.time_base or Fraction(1, rate)))
                    out.mux(pkt)
        except av.FFmpegError as exc:
            raise MediaError(f"{self.name} ({self.encoder}) failed: {exc}") from None
        # the encoder stamps its first packet at -initial_padding (priming samples)
        delay = int(round(-first_pts * rate)) if first_pts is not None and first_pts < 0 else 0
        params = {
            "encoder": self.encoder, "format": self.muxer, "options": opts,
            "bit_rate": bit_rate, "sample_format": self.sample_format,
            "coded_sample_rate": rate, "resampled": rate != sr, "coded_samples": n_coded,
            "encoder_delay": delay, "delay_signalled_by": self.delay_signalled_by,
            "trim_start": 0 if self.container_trims_delay else delay,
        }
        params.update(self._extra_params())
        return {CHUNK: buf.getvalue()}, params, media.metadata()

    def _extra_params(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ decode
    def _decode(self, container: Container) -> Audio:
        import av

        from ncodec.media_io.audio import resample
        from ncodec.media_io.pyav import decode_audio_stream

        data = container.chunks.get(CHUNK)
        if data is None:
            raise CorruptStreamError(f"{self.name} stream has no {CHUNK!r} chunk")
        meta, p = container.media, container.params
        channels, n = meta["shape"]
        sr = meta["sample_rate"]
        rate, n_coded, trim = p.get("coded_sample_rate"), p.get("coded_samples"), p.get("trim_start")
        for key, val in (("coded_sample_rate", rate), ("coded_samples", n_coded), ("trim_start", trim)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise CorruptStreamError(f"{self.name} stream has an invalid {key!r} parameter")
        if not (1000 <= rate <= 768_000) or n_coded < 1 or n_coded > 2 * n * rate / sr + 16 or trim > 1 << 20:
            raise CorruptStreamError(f"{self.name} stream parameters are inconsistent with the header")
        with av.open(io.BytesIO(data), mode="r", format=self.muxer) as src:
            y, dec_rate = decode_audio_stream(
                src, f"{self.name} payload", CorruptStreamError,
                lambda dec, nch: int((n_coded + trim) * dec / rate) + (1 << 17), channels)
        scale = dec_rate / rate
        start = int(round(trim * scale))
        need = int(round(n_coded * scale))
        y = y[:, start:start + need]
        if y.shape[1] < need - 2 * int(np.ceil(scale)):
            raise CorruptStreamError(f"{self.name} payload decodes to {y.shape[1]} samples, expected {need}")
        if y.shape[1] < need:
            y = np.pad(y, ((0, 0), (0, need - y.shape[1])))
        if dec_rate != sr:
            y = resample(y, dec_rate, sr)
        if y.shape[1] >= n:
            y = y[:, :n]
        else:  # resampling rounding: at most a sample or two
            y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
        y = np.clip(y, -1.0, 1.0).astype(np.float32)
        return Audio(np.ascontiguousarray(y), sr)


class OpusCodec(_AVAudioCodec):
    name = "opus"
    encoder = "libopus"
    muxer = "ogg"
    extension = ".opus"
    sample_format = "flt"
    allowed_rates = (8000, 12000, 16000, 24000, 48000)
    container_trims_delay = True
    delay_signalled_by = "Ogg Opus pre-skip (applied by FFmpeg's demuxer)"
    quality_range = (6, 256)
    default_quality = 64
    quality_unit = "bitrate, kbit/s (VBR target; larger is better)"
    description = ("Opus (libopus) in Ogg: VBR at 6..256 kbit/s, complexity 10, 20 ms frames, "
                   "application audio (default) or voip (speech-tuned, option application=voip); "
                   "8/12/16/24/48 kHz (others resampled)")
    APPLICATIONS = ("audio", "voip", "lowdelay")

    def __init__(self, application: str = "audio") -> None:
        if application not in self.APPLICATIONS:
            raise MediaError(f"opus application must be one of {', '.join(self.APPLICATIONS)}, got {application!r}")
        self.application = application

    def _options(self, quality: float) -> dict[str, str]:
        return {"application": self.application, "vbr": "on", "compression_level": "10", "frame_duration": "20"}


class AacCodec(_AVAudioCodec):
    name = "aac"
    encoder = "aac"
    muxer = "adts"
    extension = ".aac"
    sample_format = "fltp"
    allowed_rates = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
    quality_range = (16, 320)
    default_quality = 128
    quality_unit = "bitrate, kbit/s (larger is better)"
    description = ("AAC-LC (FFmpeg's native encoder, two-loop coder) in ADTS at 16..320 kbit/s; "
                   "the encoder caps the rate at 6144 bits per frame and channel")

    def _options(self, quality: float) -> dict[str, str]:
        return {"profile": "aac_low", "aac_coder": "twoloop"}


_MP3_MPEG1 = (32000, 44100, 48000)


class Mp3Codec(_AVAudioCodec):
    name = "mp3"
    encoder = "libmp3lame"
    muxer = "mp3"
    extension = ".mp3"
    sample_format = "fltp"
    allowed_rates = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
    container_trims_delay = True
    delay_signalled_by = "LAME/Xing gapless header (applied by FFmpeg's demuxer)"
    muxer_options = {"id3v2_version": "0", "write_xing": "1"}
    quality_range = (8, 320)
    default_quality = 128
    quality_unit = "bitrate, kbit/s, CBR (larger is better)"
    description = ("MP3 (LAME) CBR 8..320 kbit/s with the bit reservoir; MPEG-1 rates carry 32..320, "
                   "MPEG-2/2.5 rates 8..160 kbit/s (lower bitrates switch to half the sample rate, "
                   "higher ones are capped at 160)")

    def _coded_rate(self, sr: int, quality: float) -> int:
        rate = _allowed_rate(sr, self.allowed_rates)
        if quality < 32 and rate in _MP3_MPEG1:
            rate //= 2
        return rate

    def _bit_rate(self, quality: float, rate: int, channels: int) -> Optional[int]:
        kbps = quality if rate in _MP3_MPEG1 else min(quality, 160)
        return int(round(kbps * 1000))

    def _options(self, quality: float) -> dict[str, str]:
        return {"reservoir": "1", "joint_stereo": "1"}


class FlacCodec(_AVAudioCodec):
    name = "flac"
    encoder = "flac"
    muxer = "flac"
    extension = ".flac"
    sample_format = "s16"
    lossless = True
    integer_quality = True
    quality_is_rate = False
    muxer_options = {"metadata_header_padding": "0"}  # no 8 KiB PADDING block
    delay_signalled_by = "nothing needed (FLAC has no encoder delay)"
    quality_range = (0, 12)
    default_quality = 8
    quality_unit = "FLAC compression level 0..12 (lossless at every level; larger = smaller file, slower)"
    description = "FLAC (FFmpeg's encoder), 16-bit: input is quantised to 16 bits, then coded losslessly"

    def _bit_rate(self, quality: float, rate: int, channels: int) -> Optional[int]:
        return None

    def _options(self, quality: float) -> dict[str, str]:
        return {"compression_level": str(int(quality))}

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        # quantise here so that 'coded' and decoded samples agree exactly
        return (np.clip(np.rint(x.astype(np.float64) * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)

    def _extra_params(self) -> dict[str, Any]:
        return {"bits_per_sample": 16}

    def settings(self) -> dict[str, Any]:
        s = super().settings()
        s.pop("compression_level", None)
        return {**s, "bits_per_sample": 16, "sample_rates": "any"}


