"""ncodec: learned neural media codecs on one shared entropy-coding layer.

    >>> import ncodec
    >>> data = ncodec.encode(image, codec="jpeg", quality=80)   # doctest: +SKIP
    >>> image2 = ncodec.decode(data)                             # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Optional

from ncodec.container import Container
from ncodec.errors import NcodecError
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


__all__ = ["Audio", "Container", "Image", "Media", "NcodecError", "Video", "decode", "encode", "__version__"]
