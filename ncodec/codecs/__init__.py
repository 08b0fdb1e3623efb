"""Codecs: the :class:`Codec` interface, the registry and every built-in codec."""

from ncodec.codecs.base import Codec
from ncodec.codecs.registry import codec_class, get, get_learned, names

__all__ = ["Codec", "codec_class", "get", "get_learned", "names"]
