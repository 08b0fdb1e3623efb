"""PyAV (FFmpeg) helpers shared by video/audio I/O and the classical codecs: YUV 4:2:0 frames and streams, audio frames."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Optional

import numpy as np

from ncodec.errors import MediaError
from ncodec.media import MAX_CHANNELS


def frame_to_planes(frame: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy the three planes of a yuv420p ``av.VideoFrame`` into ``(H x W, ceil/2, ceil/2)`` arrays."""
    out = []
    for plane in frame.planes[:3]:
        buf = np.frombuffer(plane, np.uint8)
        out.append(buf.reshape(plane.height, plane.line_size)[:, :plane.width].copy())
    return out[0], out[1], out[2]


_AVCOL_SPC = {"bt709": 1, "bt601": 6}  # AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M


_AVCOL_RANGE_MPEG = 1  # limited ("TV") range


def add_yuv420_stream(out: Any, encoder: str, fps: Fraction, width: int, height: int,
                      options: dict[str, str], color_space: str) -> Any:
    """Add a yuv420p video stream to an open PyAV output, configured as the ffmpeg CLI does.

    Frame threading (PyAV's default, slice threading, makes x264 cut frames into slices and
    compress worse), the time base fixed once at ``1/fps`` (the muxer may rescale the
    stream's own later), limited range and the BT.601/BT.709 matrix tagged.
    """
    stream = out.add_stream(encoder, rate=fps, options=dict(options))
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    time_base = Fraction(1) / fps
    stream.time_base = time_base
    cc = stream.codec_context
    cc.time_base = time_base
    cc.thread_type = "FRAME"
    cc.colorspace = _AVCOL_SPC[color_space]
    cc.color_range = _AVCOL_RANGE_MPEG
    return stream


def planes_to_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Any:
    """A new yuv420p ``av.VideoFrame`` holding the given planes (any size, odd included)."""
    import av

    h, w = y.shape
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v)):
        dst = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        dst[:, :plane.width] = data
    return frame


_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


def audio_frame_to_float(frame: Any) -> np.ndarray:
    """``channels x samples`` float32 from a decoded ``av.AudioFrame`` of any sample format."""
    fmt = frame.format.name
    base = fmt.rstrip("p")
    a = frame.to_ndarray()
    nch = frame.layout.nb_channels
    if not frame.format.is_planar:
        a = a.reshape(-1, nch).T
    if base in ("flt", "dbl"):
        return a.astype(np.float32, copy=False)
    if base == "u8":
        return ((a.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if base in _INT_SCALE:
        return (a.astype(np.float64) / _INT_SCALE[base]).astype(np.float32)
    raise MediaError(f"unsupported decoded sample format {fmt!r}")


def decode_audio_stream(container: Any, what: str, error: type[Exception],
                        max_samples: Callable[[int, int], int], channels: Optional[int] = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of an open PyAV container to ``(channels x samples, rate)``.

    Checks shared by the reader and the audio codecs: a stream exists, rate and channel count
    stay constant (and equal ``channels`` when given, else within 1..MAX_CHANNELS), and no more
    than ``max_samples(rate, channels)`` samples come out; violations raise ``error``.
    """
    if not container.streams.audio:
        raise error(f"{what} has no audio stream")
    pieces: list[np.ndarray] = []
    total, rate, nch, limit = 0, None, None, 0
    for frame in container.decode(container.streams.audio[0]):
        if frame.samples == 0:
            continue
        a = audio_frame_to_float(frame)
        if rate is None:
            rate, nch = int(frame.sample_rate), a.shape[0]
            if not (1000 <= rate <= 768_000):
                raise error(f"{what} decodes at {rate} Hz")
            if channels is not None and nch != channels:
                raise error(f"{what} decodes to {nch} channels, {channels} declared")
            if not (1 <= nch <= MAX_CHANNELS):
                raise error(f"{what} has {nch} channels, outside 1..{MAX_CHANNELS}")
            limit = max_samples(rate, nch)
        elif a.shape[0] != nch or int(frame.sample_rate) != rate:
            raise error(f"{what} changes its channel count or sample rate mid-stream")
        pieces.append(a)
        total += a.shape[1]
        if total > limit:
            raise error(f"{what} decodes to more samples than allowed")
    if not pieces or rate is None:
        raise error(f"{what} decodes to no audio")
    return np.concatenate(pieces, axis=1), rate


def even_size(w: int, h: int, max_side: Optional[int]) -> tuple[int, int]:
    if max_side is None or max(w, h) <= max_side:
        return w, h
    if max_side < 2:
        raise MediaError(f"max_side must be at least 2, got {max_side}")
    s = max_side / max(w, h)
    nw = max(2, int(w * s) // 2 * 2)
    nh = max(2, int(h * s) // 2 * 2)
    return nw, nh


def guess_color_space(height: int) -> str:
    """Matrix of an untagged stream: BT.709 for HD (height >= 720), else BT.601 (FFmpeg/mpv convention)."""
    return "bt709" if height >= 720 else "bt601"


def resize_planes(y: np.ndarray, u: np.ndarray, v: np.ndarray, w: int, h: int) -> tuple[np.ndarray, ...]:
    f = planes_to_frame(y, u, v).reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
    return frame_to_planes(f)
