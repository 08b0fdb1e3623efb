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


def latents(stream: bytes | str | os.PathLike, **options: Any) -> Latents:
    """The latents of a learned ``.ncd`` stream (bytes or a path): entropy decoding only, no synthesis.

        >>> lat = ncodec.latents("photo.ncd")          # doctest: +SKIP
        >>> lat.tensors["y_hat"].shape                  # doctest: +SKIP
        (1, 192, 32, 48)
    """
    from ncodec.codecs import get_learned

    data = stream if isinstance(stream, (bytes, bytearray)) else Path(stream).read_bytes()
    container = Container.from_bytes(bytes(data))
    return get_learned(container.codec, **options).latents(container)


def analyse(media: Media, codec: str, quality: Optional[float] = None, **options: Any) -> Latents:
    """The latents a learned codec would code for ``media`` (transform + quantization, no entropy coding)."""
    from ncodec.codecs import get_learned

    c = get_learned(codec, NcodecError, **options)
    if media.kind != c.kind:
        raise NcodecError(f"{codec} codes {c.kind}, got {media.kind}")
    return c.analyse(media, quality)


__all__ = ["Audio", "Container", "Image", "Latents", "Media", "NcodecError", "Video", "analyse", "decode", "encode",
           "latents", "__version__"]
