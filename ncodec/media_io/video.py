"""Video files: containers through PyAV (FFmpeg), .y4m exactly; read as YUV 4:2:0 planes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ncodec.errors import MediaError
from ncodec.media import MAX_ELEMENTS, MAX_FRAMES, MAX_PIXELS, Video
from ncodec.media_io.paths import PathLike, atomic_output, check_write_ext, existing_file, extension, wrap_error
from ncodec.media_io.pyav import add_yuv420_stream, even_size, frame_to_planes, guess_color_space, planes_to_frame
from ncodec.media_io.y4m import read_y4m, write_y4m


VIDEO_READ_EXTS = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".y4m"}


VIDEO_WRITE_EXTS = {".mp4": "mp4", ".mkv": "matroska", ".y4m": "y4m"}


# FFmpeg AVColorSpace values
_AVCOL_SPC_BT709 = 1


_AVCOL_SPC_UNSPECIFIED = 2


_AVCOL_SPC_601 = {5, 6}  # BT470BG, SMPTE170M


_AVCOL_RANGE_JPEG = 2


def read_video(path: PathLike, max_frames: Optional[int] = None, max_side: Optional[int] = None) -> Video:
    """Read a video as a yuv420p :class:`~ncodec.media.Video` (8-bit, limited range).

    * ``.y4m``: ncodec's own reader, 8-bit 4:2:0 only (``C420``, ``C420jpeg``, ``C420paldv``,
      ``C420mpeg2``), exact. Header and frame-header lines are bounded (4 KiB / 1 KiB).
      A full-range (``XCOLORRANGE=FULL``) file is converted to limited range. The YUV
      matrix comes from ncodec's own ``XNCODEC_COLORSPACE`` tag when present.
    * anything else: decoded with PyAV (FFmpeg); the first video stream is used, audio
      is ignored. Frames are converted to yuv420p limited range by swscale if needed
      (e.g. yuv444p, yuvj420p, RGB sources).
    * ``color_space`` is the stream's matrix when tagged BT.709 or BT.601; untagged
      streams are taken as BT.709 when the height is at least 720 and BT.601 otherwise;
      other matrices (BT.2020, ...) are converted to BT.709.
    * ``fps`` is the stream's average frame rate. Variable-frame-rate streams keep every
      decoded frame in order (no frames are dropped or duplicated); timestamps are not
      kept, so playback at the average rate can drift locally from the source timing.
    * ``max_frames`` keeps the first frames only; ``max_side`` downsizes (area filter)
      so the longer side is at most ``max_side``, both dimensions even. A video that is
      already small enough keeps its size (odd sizes included).
    """
    p = existing_file(path)
    ext = extension(p)
    if ext not in VIDEO_READ_EXTS:
        raise MediaError(f"unsupported video extension {ext or '(none)'!r} for {str(p)!r}; "
                         f"supported: {' '.join(sorted(VIDEO_READ_EXTS))}")
    if max_frames is not None and int(max_frames) < 1:
        raise MediaError(f"max_frames must be at least 1, got {max_frames}")
    if ext == ".y4m":
        return read_y4m(p, max_frames, max_side)
    return _read_video_av(p, max_frames, max_side)


def _read_video_av(p: Path, max_frames: Optional[int], max_side: Optional[int]) -> Video:
    import av

    limit = MAX_FRAMES if max_frames is None else min(int(max_frames), MAX_FRAMES)
    ys: list[np.ndarray] = []
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    try:
        with av.open(str(p), mode="r") as container:
            if not container.streams.video:
                raise MediaError(f"{str(p)!r} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = _stream_fps(stream)
            color_space: Optional[str] = None
            size: Optional[tuple[int, int]] = None
            for frame in container.decode(stream):
                if size is None:
                    w, h = frame.width, frame.height
                    if w < 1 or h < 1 or w * h > MAX_PIXELS:
                        raise MediaError(f"video {str(p)!r} is {w}x{h}, outside ncodec's limits")
                    size = even_size(w, h, max_side)
                    spc = int(frame.colorspace)
                    if spc == _AVCOL_SPC_BT709:
                        color_space = "bt709"
                    elif spc in _AVCOL_SPC_601:
                        color_space = "bt601"
                    elif spc == _AVCOL_SPC_UNSPECIFIED:
                        color_space = guess_color_space(h)
                    else:
                        color_space = "bt709"
                    total = size[0] * size[1] * 3 // 2
                src_spc = int(frame.colorspace)
                if src_spc == _AVCOL_SPC_UNSPECIFIED or src_spc not in (1, 4, 5, 6, 7, 9):
                    src_spc = 1 if color_space == "bt709" else 5
                dst_spc = 1 if color_space == "bt709" else 5
                src_range = "JPEG" if (int(frame.color_range) == _AVCOL_RANGE_JPEG
                                       or frame.format.name.startswith("yuvj")) else "MPEG"
                if (frame.format.name != "yuv420p" or (frame.width, frame.height) != size
                        or src_range != "MPEG" or src_spc != dst_spc):
                    frame = frame.reformat(width=size[0], height=size[1], format="yuv420p",
                                           src_colorspace=src_spc, dst_colorspace=dst_spc,
                                           src_color_range=src_range, dst_color_range="MPEG",
                                           interpolation="AREA")
                y, u, v = frame_to_planes(frame)
                ys.append(y)
                us.append(u)
                vs.append(v)
                if len(ys) * total > MAX_ELEMENTS:
                    raise MediaError(f"video {str(p)!r} is too large to load (over {MAX_ELEMENTS} samples)")
                if len(ys) >= limit:
                    break
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, TypeError, MemoryError, IndexError) as exc:
        raise wrap_error(p, "read video", exc) from None
    if not ys:
        raise MediaError(f"no video frames could be decoded from {str(p)!r}")
    return Video((np.stack(ys), np.stack(us), np.stack(vs)), fps, "yuv420p", color_space or "bt601")


def _stream_fps(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and 0 < rate <= 1000:
            return Fraction(rate).limit_denominator(1_000_000)
    return Fraction(25)


def write_video(video: Video, path: PathLike, crf: float = 12, preset: str = "medium",
                pad_odd: bool = False) -> None:
    """Write a :class:`Video` as ``.y4m`` (exact) or ``.mp4`` / ``.mkv``.

    MP4/MKV are re-encoded with libx264 (yuv420p, ``crf`` 12 by default, x264 preset
    ``preset``, frame threading): visually lossless but **lossy**; read them back and you
    do not get the same pixels. Use ``.y4m`` when the exact frames matter. The stream is
    tagged with the video's matrix (BT.601 -> smpte170m, BT.709 -> bt709) and limited
    range, so :func:`read_video` gets the same ``color_space`` back.

    H.264 4:2:0 needs even dimensions: odd-sized videos raise :class:`MediaError` unless
    ``pad_odd=True``, which pads the last row/column by replication (the file is then one
    pixel larger).
    """
    if not isinstance(video, Video):
        raise MediaError(f"write_video needs a Video, got {type(video).__name__}")
    ext = check_write_ext(path, VIDEO_WRITE_EXTS, "video")
    if ext == ".y4m":
        with atomic_output(path) as tmp:
            try:
                write_y4m(video, tmp)
            except OSError as exc:
                raise wrap_error(path, "write video", exc) from None
        return
    import av

    yuv = video.to_yuv420()
    y, u, v = yuv.planes
    t, h, w = y.shape
    if (w % 2 or h % 2) and not pad_odd:
        raise MediaError(f"cannot write a {w}x{h} video as {ext}: H.264 4:2:0 needs even dimensions; "
                         "write .y4m (exact) or pass pad_odd=True")
    pw, ph = w + w % 2, h + h % 2
    fps = video.fps
    with atomic_output(path) as tmp:
        try:
            with av.open(tmp, mode="w", format=VIDEO_WRITE_EXTS[ext]) as out:
                stream = add_yuv420_stream(out, "libx264", fps, pw, ph,
                                           {"crf": f"{float(crf):g}", "preset": preset}, video.color_space)
                for i in range(t):
                    yy = y[i]
                    if (pw, ph) != (w, h):
                        yy = np.pad(yy, ((0, ph - h), (0, pw - w)), mode="edge")
                    frame = planes_to_frame(yy, u[i], v[i])
                    frame.pts = i
                    frame.time_base = stream.codec_context.time_base
                    frame.colorspace = stream.codec_context.colorspace
                    frame.color_range = stream.codec_context.color_range
                    for pkt in stream.encode(frame):
                        out.mux(pkt)
                for pkt in stream.encode(None):
                    out.mux(pkt)
        except (av.FFmpegError, OSError, ValueError, TypeError) as exc:
            raise wrap_error(path, "write video", exc) from None
