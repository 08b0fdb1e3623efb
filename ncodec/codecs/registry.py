"""Name -> codec class. Built once from explicit imports; nothing registers at run time."""

from __future__ import annotations

from typing import Any

from ncodec.codecs.base import Codec
from ncodec.errors import UnknownCodecError


def _codec_classes() -> dict[str, type[Codec]]:
    from ncodec.codecs.audio_classical import AUDIO_CODECS
    from ncodec.codecs.image.codec import LEARNED_IMAGE_CODECS
    from ncodec.codecs.image_classical import IMAGE_CODECS
    from ncodec.codecs.video_classical import VIDEO_CODECS
    from ncodec.codecs.video_inr import INR_VIDEO_CODECS

    classes = [*IMAGE_CODECS, *LEARNED_IMAGE_CODECS, *VIDEO_CODECS, *INR_VIDEO_CODECS, *AUDIO_CODECS]
    return {cls.name: cls for cls in classes}


def names(kind: str | None = None) -> list[str]:
    """Registered codec names, optionally only those for one media kind."""
    return [n for n, c in _codec_classes().items() if kind is None or c.kind == kind]


def get(name: str, **options: Any) -> Codec:
    """A codec instance by name; ``options`` go to its constructor (e.g. ``tune='psnr'``)."""
    classes = _codec_classes()
    if name not in classes:
        raise UnknownCodecError(f"unknown codec {name!r}; known codecs: {', '.join(sorted(classes))}")
    try:
        return classes[name](**options)
    except TypeError as exc:
        raise UnknownCodecError(f"codec {name!r} does not take options {sorted(options)}: {exc}") from None


def codec_class(name: str) -> type[Codec]:
    classes = _codec_classes()
    if name not in classes:
        raise UnknownCodecError(f"unknown codec {name!r}; known codecs: {', '.join(sorted(classes))}")
    return classes[name]
