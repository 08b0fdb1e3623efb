"""ncodec: learned neural media codecs on one shared entropy-coding layer.

    >>> import ncodec
    >>> data = ncodec.encode(image, codec="jpeg", quality=80)   # doctest: +SKIP
    >>> image2 = ncodec.decode(data)                             # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from ncodec.container import Container
from ncodec.errors import NcodecError
from ncodec.latents import Latents
from ncodec.media import Audio, Image, Media, Video

__version__ = "0.1.0"


def encode(media: Media, codec: str, quality: Optional[float] = None, **options: Any) -> bytes:
    """Encode ``media`` with the named codec into an ncodec container."""
    from ncodec.codecs import get

    return get(codec, **options).encode(media, quality)


def decode(data: bytes, **options: Any) -> Media:
    """Decode any ncodec container; the codec is read from its header."""
    from ncodec.codecs import get

    container = Container.from_bytes(data)
    return get(container.codec, **options).decode(container)


def _learned(name: str, options: dict[str, Any], error: type[NcodecError]):
    """The learned codec ``name``; ``error`` when it is a classical one (which has no latents)."""
    from ncodec.codecs import get
    from ncodec.codecs.base import LearnedCodec

    codec = get(name, **options)
    if not isinstance(codec, LearnedCodec):
        raise error(f"{name} is not a learned codec: it has no latents")
    return codec


def latents(stream: bytes | str | os.PathLike, **options: Any) -> Latents:
    """The latents of a learned ``.ncd`` stream (bytes or a path): entropy decoding only, no synthesis.

        >>> lat = ncodec.latents("photo.ncd")          # doctest: +SKIP
        >>> lat.tensors["y_hat"].shape                  # doctest: +SKIP
        (1, 192, 32, 48)
    """
    from ncodec.errors import FormatError

    data = stream if isinstance(stream, (bytes, bytearray)) else Path(stream).read_bytes()
    container = Container.from_bytes(bytes(data))
    return _learned(container.codec, options, FormatError).latents(container)


def analyse(media: Media, codec: str, quality: Optional[float] = None, **options: Any) -> Latents:
    """The latents a learned codec would code for ``media`` (transform + quantization, no entropy coding)."""
    c = _learned(codec, options, NcodecError)
    if media.kind != c.kind:
        raise NcodecError(f"{codec} codes {c.kind}, got {media.kind}")
    return c.analyse(media, quality)


__all__ = ["Audio", "Container", "Image", "Latents", "Media", "NcodecError", "Video", "analyse", "decode", "encode",
           "latents", "__version__"]
