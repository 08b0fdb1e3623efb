"""Name -> codec, without importing any codec module until one is used.

The table below is the whole registry: each entry names the codec, its media kind and
where its class lives. :func:`names` reads the table alone; :func:`codec_class` and
:func:`get` import the one module they need. Codec modules import nothing heavy at import
time (learned codecs load torch when a model is first needed), so listing codecs and their
settings, reading headers and decoding classical streams never load torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncodec.errors import FormatError, NcodecError, UnknownCodecError

if TYPE_CHECKING:
    from ncodec.codecs.base import Codec, LearnedCodec


@dataclass(frozen=True)
class Entry:
    """Where a codec lives: ``module`` holds class ``cls``, a codec of media ``kind``."""

    name: str
    kind: str
    module: str
    cls: str


_CLASSICAL_IMAGE = "ncodec.codecs.classical.image"
_CLASSICAL_VIDEO = "ncodec.codecs.classical.video"
_CLASSICAL_AUDIO = "ncodec.codecs.classical.audio"
_LEARNED_IMAGE = "ncodec.codecs.image.codec"
_LEARNED_VIDEO = "ncodec.codecs.video.codec"
_LEARNED_AUDIO_WAVELET = "ncodec.codecs.audio.wavelet_codec"
_LEARNED_AUDIO_TOKENS = "ncodec.codecs.audio.token_codec"

ENTRIES: tuple[Entry, ...] = (
    Entry("jpeg", "image", _CLASSICAL_IMAGE, "JpegCodec"),
    Entry("webp", "image", _CLASSICAL_IMAGE, "WebpCodec"),
    Entry("jpeg2000", "image", _CLASSICAL_IMAGE, "Jpeg2000Codec"),
    Entry("avif", "image", _CLASSICAL_IMAGE, "AvifCodec"),
    Entry("png", "image", _CLASSICAL_IMAGE, "PngCodec"),
    Entry("factorized", "image", _LEARNED_IMAGE, "FactorizedCodec"),
    Entry("hyperprior", "image", _LEARNED_IMAGE, "ScaleHyperpriorCodec"),
    Entry("mean-scale", "image", _LEARNED_IMAGE, "MeanScaleCodec"),
    Entry("checkerboard", "image", _LEARNED_IMAGE, "CheckerboardCodec"),
    Entry("h264", "video", _CLASSICAL_VIDEO, "H264Codec"),
    Entry("h265", "video", _CLASSICAL_VIDEO, "H265Codec"),
    Entry("av1", "video", _CLASSICAL_VIDEO, "AV1Codec"),
    Entry("vp9", "video", _CLASSICAL_VIDEO, "VP9Codec"),
    Entry("nerv", "video", _LEARNED_VIDEO, "NeRVCodec"),
    Entry("hnerv", "video", _LEARNED_VIDEO, "HNeRVCodec"),
    Entry("opus", "audio", _CLASSICAL_AUDIO, "OpusCodec"),
    Entry("aac", "audio", _CLASSICAL_AUDIO, "AacCodec"),
    Entry("mp3", "audio", _CLASSICAL_AUDIO, "Mp3Codec"),
    Entry("flac", "audio", _CLASSICAL_AUDIO, "FlacCodec"),
    Entry("wavelet-audio", "audio", _LEARNED_AUDIO_WAVELET, "WaveletAudioCodec"),
    Entry("wavelet-music", "audio", _LEARNED_AUDIO_WAVELET, "WaveletMusicCodec"),
    Entry("rvq-audio", "audio", _LEARNED_AUDIO_TOKENS, "TokenAudioCodec"),
)
_BY_NAME = {e.name: e for e in ENTRIES}


def names(kind: str | None = None) -> list[str]:
    """Registered codec names, optionally only those for one media kind (imports nothing)."""
    return [e.name for e in ENTRIES if kind is None or e.kind == kind]


def entry(name: str) -> Entry:
    """The registry entry of ``name``; :class:`UnknownCodecError` lists the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownCodecError(f"unknown codec {name!r}; known codecs: {', '.join(sorted(_BY_NAME))}") from None


def codec_class(name: str) -> type[Codec]:
    """The class of codec ``name``, importing its module on first use."""
    e = entry(name)
    cls = getattr(importlib.import_module(e.module), e.cls)
    if cls.name != e.name or cls.kind != e.kind:  # the table and the class must agree
        raise UnknownCodecError(f"registry entry {e} does not match {cls.__name__} ({cls.name}, {cls.kind})")
    return cls


def get(name: str, **options: Any) -> Codec:
    """A codec instance by name; ``options`` go to its constructor (e.g. ``tune='psnr'``)."""
    cls = codec_class(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise UnknownCodecError(f"codec {name!r} does not take options {sorted(options)}: {exc}") from None


def get_learned(name: str, error: type[NcodecError] = FormatError, **options: Any) -> LearnedCodec:
    """:func:`get` for a learned codec; ``error`` when ``name`` is a classical one (no latents)."""
    from ncodec.codecs.base import LearnedCodec

    codec = get(name, **options)
    if not isinstance(codec, LearnedCodec):
        raise error(f"{name} is not a learned codec: it has no latents")
    return codec
