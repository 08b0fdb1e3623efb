"""Audio files through PyAV (FFmpeg): read (optionally resampled, mono) and write WAV / FLAC."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ncodec.errors import MediaError
from ncodec.media import MAX_ELEMENTS, Audio
from ncodec.media_io.paths import PathLike, atomic_output, check_write_ext, existing_file, extension, wrap_error
from ncodec.media_io.pyav import decode_audio_stream


AUDIO_READ_EXTS = {".wav", ".flac", ".ogg", ".opus", ".oga", ".mp3", ".m4a", ".aac"}


AUDIO_WRITE_EXTS = {".wav": "wav", ".flac": "flac"}


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``channels x n`` float32 audio with FFmpeg's swresample (default filter).

    Every channel is resampled on its own; the output has exactly
    ``round(n * sr_out / sr_in)`` samples and is time-aligned with the input (the filter
    delay is compensated and the tail flushed).
    """
    import av

    samples = np.asarray(samples, dtype=np.float32)
    n = samples.shape[1]
    if sr_in == sr_out:
        return samples.copy()
    n_out = max(1, int(round(n * sr_out / sr_in)))
    out = np.zeros((samples.shape[0], n_out), np.float32)
    step = 1 << 16
    for c in range(samples.shape[0]):
        r = av.AudioResampler(format="fltp", layout="mono", rate=int(sr_out))
        pieces = []
        for s in range(0, n, step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[c:c + 1, s:s + step]),
                                               format="fltp", layout="mono")
            frame.sample_rate = int(sr_in)
            frame.pts = s
            pieces += [f.to_ndarray()[0] for f in r.resample(frame)]
        pieces += [f.to_ndarray()[0] for f in r.resample(None)]
        y = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        m = min(n_out, y.shape[0])
        out[c, :m] = y[:m]
    return out


def read_audio(path: PathLike, sample_rate: Optional[int] = None, mono: bool = False) -> Audio:
    """Read audio with PyAV as ``channels x samples`` float32 :class:`~ncodec.media.Audio`.

    Integer PCM is scaled by ``1 / 2**(bits-1)`` (16-bit ``k`` -> ``k / 32768``, so a
    16-bit WAV/FLAC written by :func:`write_audio` reads back exactly); float content is
    clipped to [-1, 1]. The first audio stream is used (video and cover art are ignored).
    ``mono=True`` averages the channels; ``sample_rate`` resamples with swresample
    (``av.AudioResampler``) to that rate. Encoder priming in MP3/AAC/Opus files is removed
    as far as the container signals it (FFmpeg's gapless handling).
    """
    import av

    p = existing_file(path)
    ext = extension(p)
    if ext not in AUDIO_READ_EXTS:
        raise MediaError(f"unsupported audio extension {ext or '(none)'!r} for {str(p)!r}; "
                         f"supported: {' '.join(sorted(AUDIO_READ_EXTS))}")
    if sample_rate is not None and not (1000 <= int(sample_rate) <= 768_000):
        raise MediaError(f"sample_rate must be in 1000..768000 Hz, got {sample_rate}")
    try:
        with av.open(str(p), mode="r") as container:
            samples, sr = decode_audio_stream(container, repr(str(p)), MediaError,
                                              lambda rate, nch: MAX_ELEMENTS // nch)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, TypeError, MemoryError, IndexError) as exc:
        raise wrap_error(p, "read audio", exc) from None
    if mono and samples.shape[0] > 1:
        samples = samples.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and int(sample_rate) != sr:
        samples = resample(samples, sr, int(sample_rate))
        sr = int(sample_rate)
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)
    return Audio(np.ascontiguousarray(samples), sr)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float ``[-1, 1]`` -> int16 by ``round(x * 32768)`` clipped to [-32768, 32767] (inverse of reading)."""
    return np.clip(np.rint(np.asarray(samples, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def write_audio(audio: Audio, path: PathLike, float32: bool = False, compression_level: int = 5) -> None:
    """Write :class:`Audio` as WAV or FLAC.

    * ``.wav``: 16-bit PCM (``round(x * 32768)``, clipped), or 32-bit float with ``float32=True``.
    * ``.flac``: 16-bit, FFmpeg's FLAC encoder at ``compression_level`` (0..12, default 5).

    16-bit output is exact for 16-bit content: :func:`read_audio` returns the same samples.
    Up to 8 channels (FFmpeg's standard layouts for 3..8 channels).
    """
    import av

    if not isinstance(audio, Audio):
        raise MediaError(f"write_audio needs an Audio, got {type(audio).__name__}")
    ext = check_write_ext(path, AUDIO_WRITE_EXTS, "audio")
    if audio.channels not in _LAYOUTS:
        raise MediaError(f"cannot write {audio.channels} channels; at most 8 are supported")
    if ext == ".flac" and float32:
        raise MediaError("FLAC output is 16-bit integer; float32=True is only for .wav")
    if ext == ".flac" and not (0 <= int(compression_level) <= 12):
        raise MediaError(f"FLAC compression_level must be in 0..12, got {compression_level}")
    layout = _LAYOUTS[audio.channels]
    if float32:
        codec, sample_fmt = "pcm_f32le", "flt"
        data = np.ascontiguousarray(np.clip(audio.samples, -1.0, 1.0).T.reshape(1, -1), dtype=np.float32)
    else:
        codec = "pcm_s16le" if ext == ".wav" else "flac"
        sample_fmt = "s16"
        data = np.ascontiguousarray(to_int16(audio.samples).T.reshape(1, -1))
    nch = audio.channels
    with atomic_output(path) as tmp:
        try:
            with av.open(tmp, mode="w", format=AUDIO_WRITE_EXTS[ext]) as out:
                opts = {"compression_level": str(int(compression_level))} if codec == "flac" else {}
                stream = out.add_stream(codec, rate=audio.sample_rate, layout=layout, options=opts)
                stream.codec_context.format = sample_fmt
                step = 4096
                for s in range(0, audio.num_samples, step):
                    chunk = data[:, s * nch:(s + step) * nch]
                    frame = av.AudioFrame.from_ndarray(chunk, format=sample_fmt, layout=layout)
                    frame.sample_rate = audio.sample_rate
                    frame.pts = s
                    for pkt in stream.encode(frame):
                        out.mux(pkt)
                for pkt in stream.encode(None):
                    out.mux(pkt)
        except (av.FFmpegError, OSError, ValueError, TypeError) as exc:
            raise wrap_error(path, "write audio", exc) from None
