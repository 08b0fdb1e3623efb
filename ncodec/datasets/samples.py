"""Tiny bundled media for demos and tests (see ``ncodec/datasets/samples/README.md``).

========  ==========================  =================================================
kind      file                        content
========  ==========================  =================================================
image     ``image_bbb_256.png``       256 x 256 RGB, a frame of Big Buck Bunny (CC BY 3.0)
video     ``video_bbb_160x90.mp4``    160 x 90, 24 fps, 72 frames (3 s), H.264 (CC BY 3.0)
audio     ``audio_jfk_16k.flac``      3 s, 16 kHz mono, 16-bit (public domain)
========  ==========================  =================================================

The video sample is stored H.264-compressed (x264 CRF 12) to stay small: the decoded
frames *are* the reference, so use them as is.
"""

from __future__ import annotations

from pathlib import Path

from ncodec.errors import MediaError
from ncodec.media import Media

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_FILES = {
    "image": "image_bbb_256.png",
    "video": "video_bbb_160x90.mp4",
    "audio": "audio_jfk_16k.flac",
}

__all__ = ["SAMPLES_DIR", "SAMPLE_FILES", "load_sample", "sample_path"]


def sample_path(kind: str) -> Path:
    """Path of the bundled sample of ``kind`` ('image', 'video' or 'audio')."""
    try:
        name = SAMPLE_FILES[kind]
    except KeyError:
        raise MediaError(f"no bundled sample of kind {kind!r}; kinds: {', '.join(SAMPLE_FILES)}") from None
    path = SAMPLES_DIR / name
    if not path.is_file():
        raise MediaError(f"bundled sample {str(path)!r} is missing; reinstall ncodec")
    return path


def load_sample(kind: str) -> Media:
    """The bundled sample of ``kind`` as an Image, a yuv420p Video or an Audio."""
    from ncodec.media_io import read_media

    return read_media(sample_path(kind))
