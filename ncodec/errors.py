"""The exceptions ncodec raises. Every failure a user can cause maps to one of these."""

from __future__ import annotations


class NcodecError(Exception):
    """Base class of every error ncodec raises on purpose."""


class FormatError(NcodecError):
    """A container is malformed: wrong magic, bad lengths, bad field values."""


class CorruptStreamError(FormatError):
    """A checksum does not match or a payload cannot be decoded."""


class TruncatedStreamError(CorruptStreamError):
    """The data ends before the container says it should."""


class UnsupportedVersionError(FormatError):
    """The container or codec version is newer than this ncodec understands."""


class WeightsMismatchError(NcodecError):
    """A stream was made with other model weights than the ones loaded."""


class UnknownCodecError(NcodecError, KeyError):
    """No codec of that name is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "unknown codec"


class QualityError(NcodecError, ValueError):
    """A quality value is outside the codec's range."""


class MediaError(NcodecError, ValueError):
    """Media has the wrong kind, shape or dtype, or cannot be read or written."""


class LimitError(FormatError):
    """A declared size exceeds ncodec's safety limits."""


class MissingWeightsError(NcodecError):
    """No trained weights are available for a learned codec."""


class OptionError(NcodecError, ValueError):
    """A codec option (``name:key=value``) has a value the codec cannot use."""
