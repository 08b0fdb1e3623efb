"""The latents layer: what a learned codec's stream holds, between its networks and its bits.

Every learned codec is four steps, and its ``encode`` / ``decode`` are exactly their
compositions::

    latents = codec.analyse(media, quality)      # transform + quantization (no entropy coding)
    chunks, params = codec.to_chunks(latents)    # entropy coding only
    latents = codec.from_chunks(container)       # entropy decoding only
    media = codec.synthesise(latents)            # synthesis (no entropy decoding)

so models can be trained on latents without pixels (``ncodec.latents(stream)``) and latents
can be had without bits (``ncodec.analyse(media, codec=..., quality=...)``). A
:class:`Latents` names its tensors: the integer symbols the stream codes, and for image codecs
also ``y_hat``, the dequantized latent the synthesis network takes.

    >>> lat = Latents("checkerboard", 0.5, {"kind": "image", "shape": [64, 64, 3]},
    ...               {"y": np.zeros((1, 192, 4, 4), np.int64)})
    >>> lat.describe()
    {'y': ('int64', (1, 192, 4, 4))}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from ncodec.container import Container
    from ncodec.media import Media


@dataclass(frozen=True)
class Latents:
    """Named latent tensors of one coded item, with what is needed to code or synthesise them.

    ``codec`` and ``quality`` made them; ``media`` is the header's description of the item
    (kind, shape, ...); ``tensors`` are numpy arrays by name (integer symbols exactly as coded,
    and derived float views such as ``y_hat``); ``side`` is side information that is not a
    tensor (quantizer steps, model config, coder).
    """

    codec: str
    quality: float
    media: dict[str, Any]
    tensors: dict[str, np.ndarray]
    side: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """``{name: (dtype, shape)}`` of every tensor."""
        return {k: (str(v.dtype), tuple(v.shape)) for k, v in self.tensors.items()}


@runtime_checkable
class LatentCodec(Protocol):
    """The four steps every learned codec implements (see the module docstring)."""

    def analyse(self, media: Media, quality: float | None = None) -> Latents: ...

    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]: ...

    def from_chunks(self, container: Container) -> Latents: ...

    def synthesise(self, latents: Latents) -> Media: ...
