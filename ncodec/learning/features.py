"""One item's latents as a float tensor: from a stream without synthesis, from media without
entropy coding.

    >>> x = features("photo.ncd")                              # doctest: +SKIP
    >>> x = features(image, codec="checkerboard", quality=0.5)  # doctest: +SKIP

The layout is the codec's :meth:`~ncodec.codecs.base.LearnedCodec.features`: image codecs
``M x h x w`` (``h, w`` the image's size padded to the model's stride, / 16; / 8 for
``wavelet-image``), the wavelet audio codecs ``M x frames`` for one coded signal
(``K x M x frames`` for ``K``, e.g. mid and side), the token codec ``D x frames``, HNeRV
``T x C x h x w``; image and audio latents are in quantization steps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from ncodec.container import Container
from ncodec.codecs import get_learned
from ncodec.errors import FormatError, NcodecError
from ncodec.media import Media


def features(source: bytes | str | os.PathLike | Media, codec: Optional[str] = None,
             quality: Optional[float] = None, **options: Any):
    """The latents of ``source`` as a float32 ``torch.Tensor`` (see the module docstring).

    ``source`` is a stream (bytes or a ``.ncd`` path: entropy decoding only; ``codec``, if
    given, must be the stream's) or media (``codec`` required: analysis and quantization only).
    ``options`` go to the codec (``weights=...``).
    """
    import torch

    if isinstance(source, Media):
        if codec is None:
            raise NcodecError("features of media need codec=NAME (a learned codec)")
        c = get_learned(codec, NcodecError, **options)
        if source.kind != c.kind:
            raise NcodecError(f"{codec} codes {c.kind}, got {source.kind}")
        return torch.from_numpy(c.features(c.analyse(source, quality)))
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif Path(source).is_file():
        data = Path(source).read_bytes()
    else:
        raise NcodecError(f"{source} is not a file")
    container = Container.from_bytes(data)
    if codec is not None and container.codec != codec:
        raise FormatError(f"stream was made by codec {container.codec!r}, not {codec!r}")
    c = get_learned(container.codec, **options)
    return torch.from_numpy(c.features(c.latents(container)))
