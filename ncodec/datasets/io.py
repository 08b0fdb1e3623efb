"""Reading and writing media files as :mod:`ncodec.media` objects.

=========  =========================================================  ==========================
kind       read (by extension)                                        write
=========  =========================================================  ==========================
image      .png .jpg .jpeg .webp .bmp .tif .tiff (Pillow)             .png (lossless), .jpg/.jpeg,
                                                                      .webp (lossy, ``quality``)
video      .mp4 .mkv .webm .avi .mov .m4v (PyAV / FFmpeg), .y4m       .y4m (exact), .mp4/.mkv
                                                                      (H.264, lossy, see below)
audio      .wav .flac .ogg .opus .oga .mp3 .m4a .aac (PyAV / FFmpeg)  .wav (16-bit PCM, or float),
                                                                      .flac (16-bit, lossless)
=========  =========================================================  ==========================

Every failure (missing file, unsupported extension, unreadable or damaged content, media
too large for ncodec's limits) raises :class:`ncodec.errors.MediaError`; exceptions of
Pillow and PyAV never escape. Writers write to a temporary file in the destination
directory and ``os.replace`` it at the end, so a failed write never leaves a half-written
file behind (and never clobbers an existing file with a partial one).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from ncodec.atomic import publish
from ncodec.errors import MediaError
from ncodec.media import MAX_CHANNELS, MAX_ELEMENTS, MAX_FRAMES, MAX_PIXELS, Audio, Image, Media, Video

PathLike = Union[str, os.PathLike]

IMAGE_READ_EXTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                   ".tif": "TIFF", ".tiff": "TIFF"}
IMAGE_WRITE_EXTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
VIDEO_READ_EXTS = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".y4m"}
VIDEO_WRITE_EXTS = {".mp4": "mp4", ".mkv": "matroska", ".y4m": "y4m"}
AUDIO_READ_EXTS = {".wav", ".flac", ".ogg", ".opus", ".oga", ".mp3", ".m4a", ".aac"}
AUDIO_WRITE_EXTS = {".wav": "wav", ".flac": "flac"}

__all__ = [
    "read_media", "write_media", "read_image", "write_image", "read_video", "write_video",
    "read_audio", "write_audio", "resample", "media_kind_for_path",
]


# ============================================================================ helpers
def _ext(path: PathLike) -> str:
    return Path(path).suffix.lower()


def media_kind_for_path(path: PathLike) -> str:
    """'image', 'video' or 'audio' from a file name's extension (MediaError if unknown)."""
    ext = _ext(path)
    if ext in IMAGE_READ_EXTS:
        return "image"
    if ext in VIDEO_READ_EXTS:
        return "video"
    if ext in AUDIO_READ_EXTS:
        return "audio"
    known = sorted(set(IMAGE_READ_EXTS) | VIDEO_READ_EXTS | AUDIO_READ_EXTS)
    raise MediaError(f"unsupported file extension {ext or '(none)'!r} for {str(path)!r}; "
                     f"supported: {' '.join(known)}")


def _existing_file(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"file not found: {str(p)!r}")
    if not p.is_file():
        raise MediaError(f"not a regular file: {str(p)!r}")
    return p


def _wrap(path: PathLike, what: str, exc: BaseException) -> MediaError:
    msg = str(exc).strip() or type(exc).__name__
    return MediaError(f"cannot {what} {str(path)!r}: {msg}")


@contextlib.contextmanager
def _atomic_output(path: PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds."""
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    if not directory.is_dir():
        raise MediaError(f"cannot write {str(dest)!r}: directory {str(directory)!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{dest.name}.", suffix=".tmp" + dest.suffix)
    except OSError as exc:
        raise _wrap(dest, "write", exc) from None
    os.close(fd)
    try:
        yield tmp
        publish(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_write_ext(path: PathLike, table: dict, kind: str) -> str:
    ext = _ext(path)
    if ext not in table:
        raise MediaError(f"cannot write {kind} as {ext or '(no extension)'!r}: "
                         f"supported {kind} outputs are {' '.join(sorted(table))}")
    return ext


# ============================================================================ dispatch
def read_media(path: PathLike, **opts: Any) -> Media:
    """Read an image, video or audio file, chosen by its extension (see the module table).

    ``opts`` go to :func:`read_image`, :func:`read_video` or :func:`read_audio`.
    """
    kind = media_kind_for_path(path)
    allowed = {"image": set(), "video": {"max_frames", "max_side"}, "audio": {"sample_rate", "mono"}}[kind]
    unknown = set(opts) - allowed
    if unknown:
        raise MediaError(f"reading {kind} takes no option(s) {', '.join(sorted(unknown))}"
                         + (f"; it takes {', '.join(sorted(allowed))}" if allowed else ""))
    if kind == "image":
        return read_image(path)
    if kind == "video":
        return read_video(path, **opts)
    return read_audio(path, **opts)


def write_media(media: Media, path: PathLike, **opts: Any) -> None:
    """Write ``media`` to ``path`` in the format named by its extension (see the module table)."""
    if isinstance(media, Image):
        write_image(media, path, **opts)
    elif isinstance(media, Video):
        write_video(media, path, **opts)
    elif isinstance(media, Audio):
        write_audio(media, path, **opts)
    else:
        raise MediaError(f"cannot write {type(media).__name__}: expected Image, Video or Audio")


# ============================================================================ images
def read_image(path: PathLike) -> Image:
    """Read an image with Pillow as an 8-bit :class:`~ncodec.media.Image`.

    Mode conversions (stated here because they change the data):

    * ``L`` (8-bit grey) stays grey: ``H x W x 1``.
    * ``RGB`` stays ``H x W x 3``; every other mode is converted to RGB:
      ``RGBA``/``LA``/``PA``/``P`` with transparency -> alpha dropped (no compositing);
      ``P`` -> palette expanded; ``1`` -> 0 / 255; ``CMYK``/``YCbCr``/``LAB`` -> Pillow's
      RGB conversion; 16-bit grey (``I;16*``, and ``I`` with values above 255) -> scaled
      to 8 bits with rounding (``v * 255 / 65535``) and replicated to R = G = B;
      ``I`` with values in 0..255 and ``F`` -> rounded and clipped to 0..255 (``F`` in
      [0, 1] is first scaled by 255).
    * EXIF orientation is applied (the image is returned the way viewers show it).
    * Embedded ICC profiles are ignored (pixel values are taken as sRGB).
    * Multi-frame files (animated WebP/PNG, multi-page TIFF) give their first frame.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's bomb guard at ncodec's limit (checked below)
    p = _existing_file(path)
    ext = _ext(p)
    if ext not in IMAGE_READ_EXTS:
        raise MediaError(f"unsupported image extension {ext or '(none)'!r} for {str(p)!r}; "
                         f"supported: {' '.join(sorted(IMAGE_READ_EXTS))}")
    # Any of the supported formats may hide behind any supported extension (.jpg named .png).
    formats = sorted(set(IMAGE_READ_EXTS.values()))
    try:
        with PILImage.open(p, formats=formats) as im:
            w, h = im.size
            if w < 1 or h < 1 or w * h > MAX_PIXELS:
                raise MediaError(f"image {str(p)!r} is {w}x{h}, outside ncodec's limit of {MAX_PIXELS} pixels")
            im.seek(0)
            im = ImageOps.exif_transpose(im)
            pixels = _pil_to_array(im)
    except MediaError:
        raise
    except (UnidentifiedImageError, PILImage.DecompressionBombError) as exc:
        raise _wrap(p, "read image", exc) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, MemoryError, IndexError, KeyError) as exc:
        raise _wrap(p, "read image", exc) from None
    return Image(np.ascontiguousarray(pixels))


def _pil_to_array(im: Any) -> np.ndarray:
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.uint8)[:, :, None]
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8)
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im)
        if mode.startswith("I;16") or (mode == "I" and a.size and a.max() > 255):
            a = np.clip(a.astype(np.int64), 0, 65535)
            g = ((a * 255 + 32767) // 65535).astype(np.uint8)
        elif mode == "F":
            a = a.astype(np.float64)
            if a.size and np.nanmax(a) <= 1.0:
                a = a * 255.0
            g = np.clip(np.rint(np.nan_to_num(a)), 0, 255).astype(np.uint8)
        else:
            g = np.clip(a, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def write_image(image: Image, path: PathLike, quality: Optional[int] = None, **opts: Any) -> None:
    """Write an :class:`Image` as PNG (lossless), JPEG or WebP (lossy).

    ``quality`` applies to JPEG (default 95, 4:2:0 chroma) and WebP (default 90); PNG uses
    zlib level ``compress_level`` (default 6). Other ``opts`` go to Pillow's ``save``.
    Grey images are written as 8-bit grey (WebP stores them as colour).
    """
    from PIL import Image as PILImage

    if not isinstance(image, Image):
        raise MediaError(f"write_image needs an Image, got {type(image).__name__}")
    ext = _check_write_ext(path, IMAGE_WRITE_EXTS, "image")
    fmt = IMAGE_WRITE_EXTS[ext]
    px = image.pixels
    im = PILImage.fromarray(px[:, :, 0], "L") if px.shape[2] == 1 else PILImage.fromarray(px, "RGB")
    save: dict[str, Any] = {}
    if fmt == "PNG":
        save["compress_level"] = 6
    elif fmt == "JPEG":
        save.update(quality=95 if quality is None else int(quality), subsampling="4:2:0", optimize=True)
    elif fmt == "WEBP":
        save.update(quality=90 if quality is None else int(quality), method=4)
    save.update(opts)
    with _atomic_output(path) as tmp:
        try:
            im.save(tmp, format=fmt, **save)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise _wrap(path, "write image", exc) from None


# ============================================================================ video: planes <-> frames
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


def _even_size(w: int, h: int, max_side: Optional[int]) -> tuple[int, int]:
    if max_side is None or max(w, h) <= max_side:
        return w, h
    if max_side < 2:
        raise MediaError(f"max_side must be at least 2, got {max_side}")
    s = max_side / max(w, h)
    nw = max(2, int(w * s) // 2 * 2)
    nh = max(2, int(h * s) // 2 * 2)
    return nw, nh


def _guess_color_space(height: int) -> str:
    """Matrix of an untagged stream: BT.709 for HD (height >= 720), else BT.601 (FFmpeg/mpv convention)."""
    return "bt709" if height >= 720 else "bt601"


# FFmpeg AVColorSpace values
_AVCOL_SPC_BT709 = 1
_AVCOL_SPC_UNSPECIFIED = 2
_AVCOL_SPC_601 = {5, 6}  # BT470BG, SMPTE170M
_AVCOL_RANGE_JPEG = 2


def _resize_planes(y: np.ndarray, u: np.ndarray, v: np.ndarray, w: int, h: int) -> tuple[np.ndarray, ...]:
    f = planes_to_frame(y, u, v).reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
    return frame_to_planes(f)


# ============================================================================ video: reading
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
    p = _existing_file(path)
    ext = _ext(p)
    if ext not in VIDEO_READ_EXTS:
        raise MediaError(f"unsupported video extension {ext or '(none)'!r} for {str(p)!r}; "
                         f"supported: {' '.join(sorted(VIDEO_READ_EXTS))}")
    if max_frames is not None and int(max_frames) < 1:
        raise MediaError(f"max_frames must be at least 1, got {max_frames}")
    if ext == ".y4m":
        return _read_y4m(p, max_frames, max_side)
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
                    size = _even_size(w, h, max_side)
                    spc = int(frame.colorspace)
                    if spc == _AVCOL_SPC_BT709:
                        color_space = "bt709"
                    elif spc in _AVCOL_SPC_601:
                        color_space = "bt601"
                    elif spc == _AVCOL_SPC_UNSPECIFIED:
                        color_space = _guess_color_space(h)
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
        raise _wrap(p, "read video", exc) from None
    if not ys:
        raise MediaError(f"no video frames could be decoded from {str(p)!r}")
    return Video((np.stack(ys), np.stack(us), np.stack(vs)), fps, "yuv420p", color_space or "bt601")


def _stream_fps(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and 0 < rate <= 1000:
            return Fraction(rate).limit_denominator(1_000_000)
    return Fraction(25)


# ---------------------------------------------------------------------------- y4m
_Y4M_MAGIC = b"YUV4MPEG2"
_Y4M_HEADER_MAX = 4096
_Y4M_FRAME_HEADER_MAX = 1024
_Y4M_420 = {b"420", b"420jpeg", b"420paldv", b"420mpeg2"}


def _read_line(f: Any, limit: int, what: str, path: Path) -> bytes:
    line = f.readline(limit + 1)
    if line and not line.endswith(b"\n"):
        if len(line) > limit:
            raise MediaError(f"y4m {what} in {str(path)!r} is longer than {limit} bytes")
        raise MediaError(f"y4m file {str(path)!r} ends inside a {what}")
    return line


def _read_y4m(p: Path, max_frames: Optional[int], max_side: Optional[int]) -> Video:
    try:
        with open(p, "rb") as f:
            header = _read_line(f, _Y4M_HEADER_MAX, "header", p)
            tokens = header.split()
            if not tokens or tokens[0] != _Y4M_MAGIC:
                raise MediaError(f"{str(p)!r} is not a YUV4MPEG2 (y4m) file")
            w = h = None
            fps = None
            chroma = b"420jpeg"
            full_range = False
            color_space = None
            for tok in tokens[1:]:
                key, val = tok[:1], tok[1:]
                try:
                    if key == b"W":
                        w = int(val)
                    elif key == b"H":
                        h = int(val)
                    elif key == b"F":
                        num, den = val.split(b":")
                        fps = Fraction(int(num), int(den))
                    elif key == b"C":
                        chroma = val
                    elif key == b"X":
                        if val.upper() == b"COLORRANGE=FULL":
                            full_range = True
                        elif val.startswith(b"NCODEC_COLORSPACE="):
                            color_space = val.split(b"=", 1)[1].decode("ascii", "replace")
                except (ValueError, ZeroDivisionError):
                    raise MediaError(f"invalid y4m header field {tok[:40]!r} in {str(p)!r}") from None
            if w is None or h is None or w < 1 or h < 1 or w * h > MAX_PIXELS:
                raise MediaError(f"y4m header of {str(p)!r} has a missing or invalid size (W{w} H{h})")
            if fps is None or not (0 < fps <= 1000):
                raise MediaError(f"y4m header of {str(p)!r} has a missing or invalid frame rate")
            if chroma not in _Y4M_420:
                raise MediaError(f"y4m file {str(p)!r} has chroma format C{chroma.decode('ascii', 'replace')}; "
                                 "only 8-bit 4:2:0 (C420, C420jpeg, C420paldv, C420mpeg2) is supported")
            if color_space not in (None, "bt601", "bt709"):
                color_space = None
            color_space = color_space or _guess_color_space(h)
            cw, ch = (w + 1) // 2, (h + 1) // 2
            frame_bytes = w * h + 2 * cw * ch
            remaining = p.stat().st_size - f.tell()
            cap = remaining // (frame_bytes + 6)  # every frame needs at least b"FRAME\n"
            if max_frames is not None:
                cap = min(cap, int(max_frames))
            cap = min(cap, MAX_FRAMES)
            if cap < 1:
                raise MediaError(f"y4m file {str(p)!r} contains no complete frame")
            y = np.empty((cap, h, w), np.uint8)
            u = np.empty((cap, ch, cw), np.uint8)
            v = np.empty((cap, ch, cw), np.uint8)
            n = 0
            while n < cap:
                line = _read_line(f, _Y4M_FRAME_HEADER_MAX, "frame header", p)
                if not line:
                    break
                if not line.startswith(b"FRAME"):
                    raise MediaError(f"y4m file {str(p)!r}: expected FRAME at frame {n}, found {line[:16]!r}")
                data = f.read(frame_bytes)
                if len(data) != frame_bytes:
                    raise MediaError(f"y4m file {str(p)!r} is truncated inside frame {n}")
                buf = np.frombuffer(data, np.uint8)
                y[n] = buf[:w * h].reshape(h, w)
                u[n] = buf[w * h:w * h + cw * ch].reshape(ch, cw)
                v[n] = buf[w * h + cw * ch:].reshape(ch, cw)
                n += 1
            if (max_frames is None or n < int(max_frames)) and f.read(1):
                raise MediaError(f"y4m file {str(p)!r} is truncated or has trailing data after frame {n}")
    except MediaError:
        raise
    except (OSError, MemoryError) as exc:
        raise _wrap(p, "read video", exc) from None
    if n == 0:
        raise MediaError(f"y4m file {str(p)!r} contains no frames")
    y, u, v = y[:n], u[:n], v[:n]
    if full_range:
        y = np.clip(np.rint(16.0 + y.astype(np.float32) * (219.0 / 255.0)), 0, 255).astype(np.uint8)
        u = np.clip(np.rint(128.0 + (u.astype(np.float32) - 128.0) * (224.0 / 255.0)), 0, 255).astype(np.uint8)
        v = np.clip(np.rint(128.0 + (v.astype(np.float32) - 128.0) * (224.0 / 255.0)), 0, 255).astype(np.uint8)
    nw, nh = _even_size(w, h, max_side)
    if (nw, nh) != (w, h):
        frames = [_resize_planes(y[i], u[i], v[i], nw, nh) for i in range(n)]
        y, u, v = (np.stack([fr[k] for fr in frames]) for k in range(3))
    return Video((np.ascontiguousarray(y), np.ascontiguousarray(u), np.ascontiguousarray(v)),
                 fps, "yuv420p", color_space)


def _write_y4m(video: Video, tmp: str) -> None:
    y, u, v = video.to_yuv420().planes
    t, h, w = y.shape
    fps = video.fps
    header = (f"YUV4MPEG2 W{w} H{h} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg "
              f"XCOLORRANGE=LIMITED XNCODEC_COLORSPACE={video.color_space}\n").encode("ascii")
    with open(tmp, "wb") as f:
        f.write(header)
        for i in range(t):
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(y[i]).tobytes())
            f.write(np.ascontiguousarray(u[i]).tobytes())
            f.write(np.ascontiguousarray(v[i]).tobytes())


# ============================================================================ video: writing
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
    ext = _check_write_ext(path, VIDEO_WRITE_EXTS, "video")
    if ext == ".y4m":
        with _atomic_output(path) as tmp:
            try:
                _write_y4m(video, tmp)
            except OSError as exc:
                raise _wrap(path, "write video", exc) from None
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
    with _atomic_output(path) as tmp:
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
            raise _wrap(path, "write video", exc) from None


# ============================================================================ audio
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

    p = _existing_file(path)
    ext = _ext(p)
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
        raise _wrap(p, "read audio", exc) from None
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
    ext = _check_write_ext(path, AUDIO_WRITE_EXTS, "audio")
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
    with _atomic_output(path) as tmp:
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
            raise _wrap(path, "write audio", exc) from None
