"""The :class:`Codec` interface every ncodec codec implements.

A codec turns media into an ncodec container and back::

    data = codec.encode(media, quality)   # bytes: a complete .ncd file
    media = codec.decode(data)

Subclasses implement :meth:`_encode` (media -> named payload chunks + header params) and
:meth:`_decode` (container -> media). The base class does everything common: media-kind
and quality checks, the container, codec-version and weights checks, and the conversion of
any failure inside a decoder into a :class:`CorruptStreamError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np

from ncodec.container import Container
from ncodec.errors import (
    CorruptStreamError,
    FormatError,
    LimitError,
    MediaError,
    MissingWeightsError,
    NcodecError,
    QualityError,
    UnsupportedVersionError,
    WeightsMismatchError,
)
from ncodec.latents import Latents
from ncodec.media import Audio, Image, Media, Video

_MEDIA_TYPES = {"image": Image, "video": Video, "audio": Audio}

#: decoders refuse a stream whose estimated peak memory is above this (bytes), unless raised
DEFAULT_MAX_DECODE_MEMORY = 8 << 30
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_memory(value: int | float | str) -> int:
    """Bytes from ``12000000``, ``"512M"`` or ``"16G"`` (binary units); :class:`LimitError` otherwise."""
    text = str(value).strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in _UNITS and not text[-1:].isdigit() else ""
    try:
        n = float(text[: len(text) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise LimitError(f"memory limit must be a number of bytes or like 512M / 16G, got {value!r}") from None
    if not (n > 0 and n < 1 << 60):
        raise LimitError(f"memory limit must be positive, got {value!r}")
    return int(n)


class Codec(ABC):
    """Base class of all codecs. Class attributes describe the codec for the registry and CLI."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "image" | "video" | "audio"
    version: ClassVar[int] = 1
    quality_range: ClassVar[tuple[float, float]]
    default_quality: ClassVar[float]
    quality_unit: ClassVar[str] = ""
    #: True when the knob takes whole numbers only (JPEG quality, CRF); False for continuous knobs
    integer_quality: ClassVar[bool] = False
    #: True when the knob is itself a rate (bits per pixel, kbit/s): sweeps probe it on a log scale
    quality_is_rate: ClassVar[bool] = False
    #: True when the knob is a target rate the codec sizes itself for (no probing needed)
    rate_is_target: ClassVar[bool] = False
    #: True when encoding fits a model to the input (slow; the CLI gives it a resumable workdir)
    fits_at_encode: ClassVar[bool] = False
    #: True when decoding returns the input exactly (PNG, FLAC)
    lossless: ClassVar[bool] = False
    learned: ClassVar[bool] = False
    description: ClassVar[str] = ""
    #: the most memory (bytes) :meth:`decode` may need; learned codecs take ``max_memory=`` to change it
    max_decode_memory: int = DEFAULT_MAX_DECODE_MEMORY

    # ---------------------------------------------------------------- describing
    def settings(self) -> dict[str, Any]:
        """Encoder settings that a result depends on (shown by ``ncodec codecs``)."""
        return {}

    def weights_hash(self) -> Optional[str]:
        """SHA-256 of the model weights for learned codecs, else None."""
        return None

    def check_quality(self, quality: Optional[float]) -> float:
        if quality is None:
            return float(self.default_quality)
        lo, hi = self.quality_range
        try:
            q = float(quality)
        except (TypeError, ValueError):
            raise QualityError(f"quality must be a number, got {quality!r}") from None
        if not (lo <= q <= hi) or q != q:
            raise QualityError(f"quality {quality} is outside {self.name}'s range {lo:g}..{hi:g}"
                               + (f" ({self.quality_unit})" if self.quality_unit else ""))
        if self.integer_quality and q != int(q):
            raise QualityError(f"{self.name} quality must be a whole number, got {quality}")
        return q

    # ---------------------------------------------------------------- encoding
    def encode(self, media: Media, quality: Optional[float] = None) -> bytes:
        """Encode ``media`` at ``quality`` into a complete ncodec container."""
        expected = _MEDIA_TYPES[self.kind]
        if not isinstance(media, expected):
            raise MediaError(f"{self.name} codes {self.kind}, got {type(media).__name__}")
        q = self.check_quality(quality)
        chunks, params, meta = self._encode(media, q)
        container = Container(codec=self.name, codec_version=self.version, media=meta,
                              chunks=chunks, params=params, weights=self.weights_hash(), quality=q)
        return container.to_bytes()

    # ---------------------------------------------------------------- decoding
    def decode(self, data: bytes | Container) -> Media:
        """Decode a container made by this codec; raises only :class:`NcodecError` subclasses."""
        c = self.open(data)
        media = self._guarded(self._decode, c)
        _check_matches(media, c.media, self.name)
        return media

    def open(self, data: bytes | Container) -> Container:
        """The verified container: this codec's, a version it reads, its weights, within the memory limit."""
        c = data if isinstance(data, Container) else Container.from_bytes(data)
        if c.codec != self.name:
            raise FormatError(f"stream was made by codec {c.codec!r}, not {self.name!r}")
        if c.codec_version > self.version:
            raise UnsupportedVersionError(
                f"{self.name} stream version {c.codec_version} is newer than this decoder ({self.version})")
        if c.media.get("kind") != self.kind:
            raise FormatError(f"{self.name} decodes {self.kind}, the header says {c.media.get('kind')}")
        need = self.decode_memory(c)
        if need > self.max_decode_memory:
            raise LimitError(
                f"{self.name} stream declares {_describe(c.media)}: decoding needs about {_size(need)}, "
                f"over the limit of {_size(self.max_decode_memory)} (raise it with max_memory=, "
                f"CLI --max-memory)")
        mine = self.weights_hash()
        if c.weights != mine:
            raise WeightsMismatchError(
                f"stream was encoded with {self.name} weights {str(c.weights)[:12]}…, "
                f"but the loaded weights are {str(mine)[:12]}…; load the matching weights")
        return c

    def _guarded(self, step, c: Container):
        """``step(c)``, any failure but an ncodec error turned into :class:`CorruptStreamError`."""
        try:
            return step(c)
        except NcodecError:
            raise
        except (MemoryError, RecursionError):
            raise CorruptStreamError(f"{self.name} payload is corrupt (decoder exhausted resources)") from None
        except Exception as exc:  # a third-party decoder choking on a damaged payload
            raise CorruptStreamError(f"{self.name} payload is corrupt: {type(exc).__name__}: {exc}") from None

    def payload_bytes(self, container: Container) -> int:
        """Bytes of coded media in ``container``, without ncodec's header: its chunks. Codecs whose
        chunk is a file format (Ogg, ADTS, ...) count only the packets inside it."""
        return sum(len(v) for v in container.chunks.values())

    def decode_memory(self, container: Container) -> int:
        """Estimated peak bytes :meth:`decode` allocates for ``container``, from its header alone.

        Called before anything is decoded; codecs whose decoders allocate in proportion to
        declared sizes (the learned ones) override it. The default 0 means "bounded by the
        container's own limits"."""
        return 0

    # ---------------------------------------------------------------- to implement
    @abstractmethod
    def _encode(self, media: Media, quality: float) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any]]:
        """Return (chunks, params, media metadata for the header)."""

    @abstractmethod
    def _decode(self, container: Container) -> Media:
        """Rebuild the media from a verified container."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.kind})>"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"


def _describe(meta: dict[str, Any]) -> str:
    shape = meta.get("shape")
    return f"{meta.get('kind')} {'x'.join(map(str, shape)) if isinstance(shape, list) else shape}"


def _check_matches(media: Media, meta: dict[str, Any], name: str) -> None:
    """A decoder must return exactly the media the header declares."""
    if media.kind != meta["kind"]:
        raise CorruptStreamError(f"{name} decoded {media.kind}, header declares {meta['kind']}")
    got = media.metadata()["shape"]
    if list(got) != list(meta["shape"]):
        raise CorruptStreamError(f"{name} decoded shape {got}, header declares {meta['shape']}")


class LearnedCodec(Codec):
    """A codec in the four steps of :mod:`ncodec.latents`; encode and decode are their compositions."""

    learned = True

    @abstractmethod
    def analyse(self, media: Media, quality: Optional[float] = None) -> Latents:
        """Transform and quantize ``media`` (no entropy coding)."""

    @abstractmethod
    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Entropy-code ``latents``: ``(chunks, header params)``."""

    @abstractmethod
    def from_chunks(self, container: Container) -> Latents:
        """Entropy-decode a verified container (no synthesis)."""

    @abstractmethod
    def synthesise(self, latents: Latents) -> Media:
        """The media of ``latents`` (no entropy decoding)."""

    def latents(self, data: bytes | Container) -> Latents:
        """The latents of a stream made by this codec, without running synthesis."""
        return self._guarded(self.from_chunks, self.open(data))

    #: the latents' tensor that :meth:`features` returns
    feature_tensor: ClassVar[str] = "y_hat"

    def features(self, latents: Latents) -> np.ndarray:
        """The latents as one float32, channel-first array for learning on them (compressed-domain
        learning): the dequantized latent the synthesis starts from, without the leading batch
        axis of one item. Image and audio codecs give it in quantization steps (one step = 1.0:
        the coded integers plus their predicted means); codecs document their layout, and one
        with no per-item latent raises :class:`NcodecError`."""
        x = np.asarray(latents.tensors[self.feature_tensor], np.float32)
        return x[0] if x.shape[0] == 1 else x

    def _encode(self, media: Media, quality: float):
        latents = self.analyse(media, quality)
        chunks, params = self.to_chunks(latents)
        return chunks, params, latents.media

    def _decode(self, container: Container) -> Media:
        return self.synthesise(self.from_chunks(container))


class WeightsFile:
    """For learned codecs whose model comes from a weights file (the image and audio families):
    the model is loaded on first use, hashed as the container records it, and a missing file
    says how to train one. Subclasses set ``_weights_path`` and implement :meth:`_load_model`
    and :meth:`_model_hash`."""

    name: ClassVar[str]
    kind: ClassVar[str]
    arch: ClassVar[str]
    _weights_path: Path
    _model: Any = None
    _hash: Optional[str] = None

    def _load_model(self, path: Path) -> Any:
        raise NotImplementedError

    def _model_hash(self, model: Any) -> str:
        raise NotImplementedError

    @property
    def model(self) -> Any:
        if self._model is None:
            if not self._weights_path.exists():
                raise MissingWeightsError(
                    f"no weights for {self.name}: {self._weights_path} is missing. Train them with "
                    f"`ncodec train {self.kind} --arch {self.arch} ...` or pass weights=PATH / --weights PATH")
            model = self._load_model(self._weights_path)
            self._model, self._hash = model, self._model_hash(model)
        return self._model

    def weights_hash(self) -> Optional[str]:
        self.model  # noqa: B018  (loads and hashes)
        return self._hash

    def weights_setting(self) -> str:
        """The weights path for :meth:`Codec.settings` (``missing (...)`` when absent)."""
        return str(self._weights_path) if self._weights_path.exists() else f"missing ({self._weights_path.name})"
