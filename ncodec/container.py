"""The ncodec container: one self-describing, checksummed file for every codec and medium.

Byte layout (all integers little-endian; see ``docs/format.md``)::

    0      8   magic  b"\\x89NCD\\r\\n\\x1a\\n"
    8      2   format major version (u16)
    10     2   format minor version (u16)
    12     4   header length H (u32), at most MAX_HEADER_BYTES
    16     H   header: canonical UTF-8 JSON object; from format 2 on, raw-DEFLATE compressed
               with the preset dictionary HEADER_DICTIONARY (format 1: stored as is)
    16+H   4   CRC-32 of bytes [0, 16+H)
    20+H   ..  chunk payloads, concatenated in header order

The header names the codec and its version, the hash of the model weights (learned
codecs), the quality, the media metadata, codec parameters and the chunk table
``[[name, length, crc32], ...]``. The file must end exactly after the last chunk.
Every declared size is checked against the bytes actually present before anything is
sliced or allocated, and the header is inflated with a hard output limit, so a hostile file
cannot make the reader allocate memory.

Why compress the header: a JSON header costs 270-500 bytes, which at low rates is several
per cent of a small image's file (and the issue's "file size within 1 % + 64 bytes of the
model's estimate" bound could never hold). With a dictionary of the keys and values every
header repeats, it shrinks to 60-130 bytes while staying self-describing JSON.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Optional

from ncodec.errors import (
    CorruptStreamError,
    FormatError,
    LimitError,
    TruncatedStreamError,
    UnsupportedVersionError,
)
from ncodec.media import MAX_CHANNELS, MAX_FRAMES, MAX_PIXELS, MEDIA_KINDS

MAGIC = b"\x89NCD\r\n\x1a\n"
FORMAT_MAJOR = 2
FORMAT_MINOR = 0
#: Preset DEFLATE dictionary of format 2 headers: the keys and values that headers repeat
#: (rarest first, so that the commonest sit nearest the data). Part of the format: never edit it;
#: a new dictionary needs a new major version.
HEADER_DICTIONARY = "".join((
    '"delay_signalled_by":"nothing needed (FLAC has no encoder delay)","bits_per_sample":16,',
    '"delay_signalled_by":"LAME/Xing gapless header (applied by FFmpeg\'s demuxer)",',
    '"delay_signalled_by":"Ogg Opus pre-skip (applied by FFmpeg\'s demuxer)",',
    '"delay_signalled_by":"nothing (trimmed by ncodec from params)","options":{"aac_coder":"twoloop",',
    '"profile":"aac_low"},"options":{"application":"audio","compression_level":"10",',
    '"frame_duration":"20","vbr":"on"},"options":{"joint_stereo":"1","reservoir":"1"},',
    '"encoder":"libopus","encoder":"libmp3lame","encoder":"flac","format":"adts","format":"ogg",',
    '{"bit_rate":64000,"coded_sample_rate":16000,"coded_samples":48000,"encoder":"aac",',
    '"encoder_delay":0,"format":"flac","resampled":false,"sample_format":"fltp","trim_start":0},',
    '"media":{"channels":1,"dtype":"float32","kind":"audio","sample_rate":48000,"shape":[1,',
    '"x265-params":"log-level=error:info=0"},"options":{"b":"0","cpu-used":"4","crf":"32",',
    '"deadline":"good","row-mt":"1"},"encoder":"libx265","format":"hevc","encoder":"libsvtav1",',
    '"format":"ivf","encoder":"libvpx-vp9","params":{"coded_height":240,"coded_width":320,',
    '"crf":23.0,"encoder":"libx264","format":"h264","fps":[30,1],"frames":64,"options":{"crf":"23",',
    '"preset":"medium"},"padded":false,"thread_type":"FRAME","tune":null},',
    '"media":{"color_space":"bt601","dtype":"uint8","fps":[30,1],"kind":"video",',
    '"pix_fmt":"yuv420p","shape":[64,240,320]},',
    '"params":{"config":{"arch":"hnerv","block":"nerv","channels":[',
    '"embed_bits":6,"embed_dim":16,"frames":64,"grid":[','"kernels":[','"mlp_dim":',
    '"strides":[','"weight_bits":8,"width":320},"embeddings_raw_bytes":',
    '"fit":{"device":"cpu","seconds":','"steps":','"y_psnr":','"weights_raw_bytes":',
    '["embeddings",','["weights",','"codec":"nerv","codec":"hnerv",',
    '"params":{"codec":"aom","coded_mode":"RGB","format":"avif","quality":60,"range":"full",',
    '"speed":6,"subsampling":"4:2:0"},"params":{"coded_mode":"RGB","compress_level":9,',
    '"format":"png"},"params":{"coded_mode":"RGB","format":"jpeg2000","irreversible":true,',
    '"mct":1,"no_jp2":true,"num_resolutions":6,"quality_layers":[24.0],"quality_mode":"rates"},',
    '"params":{"coded_mode":"RGB","format":"webp","lossless":false,"method":6,"quality":75},',
    '"params":{"coded_mode":"RGB","format":"jpeg","optimize":true,"quality":75,',
    '"subsampling":"4:2:0"},"codec":"jpeg2000","codec":"avif","codec":"webp","codec":"jpeg",',
    '"codec":"factorized","codec":"hyperprior","codec":"mean-scale","codec":"checkerboard",',
    '"codec":"h264","codec":"h265","codec":"av1","codec":"vp9","codec":"opus","codec":"aac",',
    '"codec":"mp3","codec":"flac","refine_steps":','"coder":"range",',
    '"quality":0.5,"weights":"',
    '{"chunks":[["latents",','"codec_version":2,"media":{"color_space":"srgb","dtype":"uint8",',
    '"kind":"image","shape":[512,768,3]},"params":{},"quality":',
    '"weights":null}{"chunks":[["bitstream",','"codec_version":1,"media":{',
)).encode("ascii")
MAX_HEADER_BYTES = 1 << 20
MAX_CHUNKS = 4096
MAX_CHUNK_NAME = 64
_PREFIX = struct.Struct("<8sHHI")
_CRC = struct.Struct("<I")
_HEADER_KEYS = {"codec", "codec_version", "weights", "quality", "media", "params", "chunks"}


@dataclass
class Container:
    """A decoded ncodec file: header fields plus named payload chunks (in order)."""

    codec: str
    codec_version: int
    media: dict[str, Any]
    chunks: dict[str, bytes] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    weights: Optional[str] = None
    quality: Optional[float] = None
    format_version: tuple[int, int] = (FORMAT_MAJOR, FORMAT_MINOR)

    # ------------------------------------------------------------------ writing
    def header(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "codec_version": int(self.codec_version),
            "weights": self.weights,
            "quality": self.quality,
            "media": self.media,
            "params": self.params,
            "chunks": [[name, len(data), zlib.crc32(data)] for name, data in self.chunks.items()],
        }

    def to_bytes(self) -> bytes:
        header = self.header()
        _validate_header(header)  # never write what we would refuse to read
        hbytes = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                            allow_nan=False).encode("utf-8")
        if len(hbytes) > MAX_HEADER_BYTES:
            raise LimitError(f"header of {len(hbytes)} bytes exceeds {MAX_HEADER_BYTES}")
        hbytes = pack_header_text(hbytes, FORMAT_MAJOR)
        prefix = _PREFIX.pack(MAGIC, FORMAT_MAJOR, FORMAT_MINOR, len(hbytes)) + hbytes
        return b"".join([prefix, _CRC.pack(zlib.crc32(prefix)), *self.chunks.values()])

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> "Container":
        """Parse and verify a container; raises a specific :class:`FormatError` subclass."""
        buf = memoryview(data).cast("B")
        if len(buf) == 0:
            raise FormatError("empty file: not an ncodec file (wrong magic bytes)")
        if len(buf) < _PREFIX.size:
            if bytes(buf[: len(MAGIC)]) != MAGIC[: len(buf)]:
                raise FormatError("not an ncodec file (wrong magic bytes)")
            raise TruncatedStreamError(f"file of {len(buf)} bytes is too short for an ncodec header")
        magic, major, minor, hlen = _PREFIX.unpack_from(buf, 0)
        if magic != MAGIC:
            raise FormatError("not an ncodec file (wrong magic bytes)")
        if major > FORMAT_MAJOR:
            raise UnsupportedVersionError(
                f"container format version {major}.{minor} is newer than this ncodec reads "
                f"({FORMAT_MAJOR}.{FORMAT_MINOR}); upgrade ncodec")
        if major < 1:
            raise FormatError(f"invalid container format version {major}.{minor}")
        if not (2 <= hlen <= MAX_HEADER_BYTES):
            raise LimitError(f"declared header length {hlen} is outside 2..{MAX_HEADER_BYTES}")
        end = _PREFIX.size + hlen
        if len(buf) < end + _CRC.size:
            raise TruncatedStreamError(f"file ends inside its header ({len(buf)} of {end + 4} bytes)")
        (crc,) = _CRC.unpack_from(buf, end)
        if zlib.crc32(buf[:end]) != crc:
            raise CorruptStreamError("header checksum mismatch: the file is corrupt")
        text = unpack_header_text(bytes(buf[_PREFIX.size:end]), major)
        try:
            header = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CorruptStreamError(f"header is not valid JSON: {exc}") from None
        _validate_header(header)
        pos = end + _CRC.size
        declared = sum(length for _, length, _ in header["chunks"])
        if len(buf) - pos < declared:
            raise TruncatedStreamError(
                f"file is truncated: chunks need {declared} bytes, {len(buf) - pos} present")
        if len(buf) - pos > declared:
            raise CorruptStreamError(f"{len(buf) - pos - declared} unexpected bytes after the last chunk")
        chunks: dict[str, bytes] = {}
        for name, length, ccrc in header["chunks"]:
            piece = buf[pos:pos + length]
            if zlib.crc32(piece) != ccrc:
                raise CorruptStreamError(f"chunk {name!r} checksum mismatch: the file is corrupt")
            chunks[name] = bytes(piece)
            pos += length
        return cls(codec=header["codec"], codec_version=header["codec_version"], media=header["media"],
                   chunks=chunks, params=header["params"], weights=header["weights"],
                   quality=header["quality"], format_version=(major, minor))

    @property
    def payload_bytes(self) -> int:
        return sum(len(c) for c in self.chunks.values())


def pack_header_text(text: bytes, major: int) -> bytes:
    """The header bytes as stored by format ``major``: format 1 as is, format 2 raw DEFLATE
    (level 9, 32 KiB window) primed with :data:`HEADER_DICTIONARY`."""
    if major == 1:
        return text
    enc = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=HEADER_DICTIONARY)
    return enc.compress(text) + enc.flush()


def unpack_header_text(stored: bytes, major: int) -> bytes:
    """Inverse of :func:`pack_header_text`; inflates at most MAX_HEADER_BYTES (no zip bombs)."""
    if major == 1:
        return stored
    dec = zlib.decompressobj(-15, zdict=HEADER_DICTIONARY)
    try:
        text = dec.decompress(stored, MAX_HEADER_BYTES + 1)
    except zlib.error as exc:
        raise CorruptStreamError(f"header does not inflate: {exc}") from None
    if len(text) > MAX_HEADER_BYTES:
        raise LimitError(f"header inflates to more than {MAX_HEADER_BYTES} bytes")
    if not dec.eof or dec.unused_data:
        raise CorruptStreamError("header's compressed data is incomplete or followed by garbage")
    return text


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-finite number {name} in header")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _validate_header(h: Any) -> None:
    if not isinstance(h, dict) or set(h) != _HEADER_KEYS:
        raise FormatError("header must be an object with exactly the keys " + ", ".join(sorted(_HEADER_KEYS)))
    if not isinstance(h["codec"], str) or not (1 <= len(h["codec"]) <= 64):
        raise FormatError("header field 'codec' must be a name of 1..64 characters")
    if not _is_int(h["codec_version"]) or not (0 <= h["codec_version"] < 1 << 31):
        raise FormatError("header field 'codec_version' must be a non-negative integer")
    w = h["weights"]
    if w is not None and (not isinstance(w, str) or len(w) != 64 or any(c not in "0123456789abcdef" for c in w)):
        raise FormatError("header field 'weights' must be null or a sha256 hex digest")
    q = h["quality"]
    if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q)):
        raise FormatError("header field 'quality' must be null or a finite number")
    if not isinstance(h["params"], dict):
        raise FormatError("header field 'params' must be an object")
    validate_media_metadata(h["media"])
    chunks = h["chunks"]
    if not isinstance(chunks, list) or len(chunks) > MAX_CHUNKS:
        raise FormatError(f"header field 'chunks' must be a list of at most {MAX_CHUNKS} entries")
    names = set()
    for entry in chunks:
        if (not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str)
                or not (1 <= len(entry[0]) <= MAX_CHUNK_NAME) or not entry[0].isascii()
                or not _is_int(entry[1]) or not _is_int(entry[2])
                or not (0 <= entry[1] < 1 << 40) or not (0 <= entry[2] < 1 << 32)):
            raise FormatError(f"malformed chunk entry {str(entry)[:80]}")
        if entry[0] in names:
            raise FormatError(f"duplicate chunk name {entry[0]!r}")
        names.add(entry[0])


def validate_media_metadata(m: Any) -> None:
    """Check media metadata declared by a header against ncodec's hard limits."""
    if not isinstance(m, dict) or m.get("kind") not in MEDIA_KINDS:
        raise FormatError("header field 'media' must be an object with kind image, video or audio")
    shape = m.get("shape")
    if not isinstance(shape, list) or not all(_is_int(s) and s >= 1 for s in shape):
        raise FormatError("media 'shape' must be a list of positive integers")
    kind = m["kind"]
    if kind == "image":
        if len(shape) != 3 or shape[2] not in (1, 3) or shape[0] * shape[1] > MAX_PIXELS:
            raise LimitError(f"image shape {shape} is outside ncodec's limits")
    elif kind == "video":
        if len(shape) != 3 or shape[0] > MAX_FRAMES or shape[1] * shape[2] > MAX_PIXELS:
            raise LimitError(f"video shape {shape} is outside ncodec's limits")
        fps = m.get("fps")
        if not (isinstance(fps, list) and len(fps) == 2 and all(_is_int(x) and 1 <= x < 1 << 31 for x in fps)):
            raise FormatError("video 'fps' must be [numerator, denominator]")
        if m.get("pix_fmt") not in ("rgb24", "yuv420p") or m.get("color_space") not in ("bt601", "bt709"):
            raise FormatError("video 'pix_fmt' or 'color_space' is invalid")
    else:
        if len(shape) != 2 or shape[0] > MAX_CHANNELS or shape[1] > 1 << 34:
            raise LimitError(f"audio shape {shape} is outside ncodec's limits")
        sr = m.get("sample_rate")
        if not _is_int(sr) or not (1000 <= sr <= 768_000):
            raise FormatError("audio 'sample_rate' must be an integer in 1000..768000")


def describe(c: Container, file_size: Optional[int] = None) -> dict[str, Any]:
    """A JSON-able summary of a container, used by ``ncodec info``."""
    out: dict[str, Any] = {
        "format_version": f"{c.format_version[0]}.{c.format_version[1]}",
        "codec": c.codec,
        "codec_version": c.codec_version,
        "quality": c.quality,
        "weights_sha256": c.weights,
        "media": c.media,
        "params": c.params,
        "chunks": [{"name": n, "bytes": len(d), "crc32": f"{zlib.crc32(d):08x}"} for n, d in c.chunks.items()],
        "payload_bytes": c.payload_bytes,
    }
    if file_size is not None:
        out["file_bytes"] = file_size
        out["overhead_bytes"] = file_size - c.payload_bytes
    return out


