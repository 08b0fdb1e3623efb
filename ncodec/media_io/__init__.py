"""Reading and writing media files as :mod:`ncodec.media` objects, one module per medium.

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

from typing import Any

from ncodec.errors import MediaError
from ncodec.media import Audio, Image, Media, Video
from ncodec.media_io.audio import AUDIO_READ_EXTS, read_audio, resample, write_audio
from ncodec.media_io.image import IMAGE_READ_EXTS, read_image, write_image
from ncodec.media_io.paths import PathLike, extension
from ncodec.media_io.video import VIDEO_READ_EXTS, read_video, write_video

__all__ = [
    "read_media", "write_media", "read_image", "write_image", "read_video", "write_video",
    "read_audio", "write_audio", "resample", "media_kind_for_path",
]


def media_kind_for_path(path: PathLike) -> str:
    """'image', 'video' or 'audio' from a file name's extension (MediaError if unknown)."""
    ext = extension(path)
    if ext in IMAGE_READ_EXTS:
        return "image"
    if ext in VIDEO_READ_EXTS:
        return "video"
    if ext in AUDIO_READ_EXTS:
        return "audio"
    known = sorted(set(IMAGE_READ_EXTS) | VIDEO_READ_EXTS | AUDIO_READ_EXTS)
    raise MediaError(f"unsupported file extension {ext or '(none)'!r} for {str(path)!r}; "
                     f"supported: {' '.join(known)}")


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
