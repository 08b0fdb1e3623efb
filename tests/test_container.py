"""The container: round trip, and a specific error for every way a file can be broken."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from ncodec.container import FORMAT_MAJOR, MAGIC, MAX_HEADER_BYTES, Container, pack_header_text
from ncodec.errors import (
    CorruptStreamError,
    FormatError,
    LimitError,
    TruncatedStreamError,
    UnsupportedVersionError,
)

IMAGE_META = {"kind": "image", "shape": [4, 6, 3], "dtype": "uint8", "color_space": "srgb"}


def make(**kw) -> Container:
    args = dict(codec="jpeg", codec_version=1, media=IMAGE_META, chunks={"main": b"abc" * 10, "side": b""},
                params={"x": 1}, weights=None, quality=75.0)
    args.update(kw)
    return Container(**args)


def rebuild(header: dict | bytes, chunks: bytes, major: int = FORMAT_MAJOR, raw: bool = False) -> bytes:
    """A file with this header (dict, or JSON text), valid checksums; ``raw``: header bytes as given."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    if not raw:
        h = pack_header_text(h, min(major, FORMAT_MAJOR))
    prefix = struct.pack("<8sHHI", MAGIC, major, 0, len(h)) + h
    return prefix + struct.pack("<I", zlib.crc32(prefix)) + chunks


def test_roundtrip_keeps_every_field():
    c = make(weights="ab" * 32)
    d = Container.from_bytes(c.to_bytes())
    assert (d.codec, d.codec_version, d.media, d.params, d.weights, d.quality) == (
        "jpeg", 1, IMAGE_META, {"x": 1}, "ab" * 32, 75.0)
    assert d.chunks == c.chunks and list(d.chunks) == ["main", "side"]


def read_header_json(data: bytes) -> dict:
    """The header as docs/format.md describes it: raw DEFLATE with the preset dictionary."""
    from ncodec.container import HEADER_DICTIONARY

    hlen = struct.unpack_from("<I", data, 12)[0]
    d = zlib.decompressobj(-15, zdict=HEADER_DICTIONARY)
    return json.loads(d.decompress(data[16:16 + hlen]))


def test_layout_matches_docs():
    data = make().to_bytes()
    assert data[:8] == b"\x89NCD\r\n\x1a\n"
    major, minor, hlen = struct.unpack_from("<HHI", data, 8)
    assert (major, minor) == (2, 0)
    header = read_header_json(data)
    assert header["chunks"][0] == ["main", 30, zlib.crc32(b"abc" * 10)]
    assert header == json.loads(json.dumps(make().header(), sort_keys=True))
    assert len(data) == 16 + hlen + 4 + 30
    assert len(data) - 30 < 100  # the point of format 2: a small fixed cost per file


def test_format_1_files_still_read():
    c = make(weights="cd" * 32)
    v1 = rebuild(c.header(), b"abc" * 10, major=1)
    assert json.loads(v1[16:16 + struct.unpack_from("<I", v1, 12)[0]]) == c.header()  # plain JSON
    d = Container.from_bytes(v1)
    assert d.format_version == (1, 0) and d.params == {"x": 1} and d.weights == "cd" * 32
    assert d.chunks == {"main": b"abc" * 10, "side": b""}


def test_compressed_header_is_bounded_and_checked():
    header = make().header()
    bomb = json.dumps(header).encode()[:-1] + b',"pad":"' + b" " * (MAX_HEADER_BYTES + 10) + b'"}'
    with pytest.raises(LimitError, match="inflates to more than"):  # a few KB that inflate past 1 MiB
        Container.from_bytes(rebuild(bomb, b"abc" * 10))
    assert len(rebuild(bomb, b"")) < 4096
    packed = pack_header_text(json.dumps(header).encode(), FORMAT_MAJOR)
    with pytest.raises(CorruptStreamError, match="incomplete"):
        Container.from_bytes(rebuild(packed[:-3], b"abc" * 10, raw=True))
    with pytest.raises(CorruptStreamError, match="garbage"):
        Container.from_bytes(rebuild(packed + b"xyz", b"abc" * 10, raw=True))
    with pytest.raises(CorruptStreamError, match="does not inflate"):
        Container.from_bytes(rebuild(b"\xff" * 40, b"abc" * 10, raw=True))


def test_wrong_magic():
    with pytest.raises(FormatError, match="not an ncodec file"):
        Container.from_bytes(b"GIF89a" + b"\0" * 100)
    with pytest.raises(FormatError, match="not an ncodec file"):
        Container.from_bytes(b"")  # empty is not ours either
    with pytest.raises(FormatError, match="not an ncodec file"):
        Container.from_bytes(b"PK")


def test_future_version():
    header = read_header_json(make().to_bytes())
    with pytest.raises(UnsupportedVersionError, match="newer"):
        Container.from_bytes(rebuild(header, b"abc" * 10, major=FORMAT_MAJOR + 1))


@pytest.mark.parametrize("cut", [3, 12, 17, 40, -1, -30])
def test_truncated(cut):
    data = make().to_bytes()
    with pytest.raises(TruncatedStreamError):
        Container.from_bytes(data[:cut])


def test_checksums():
    data = bytearray(make().to_bytes())
    bad = bytearray(data)
    bad[20] ^= 1  # inside the header
    with pytest.raises(CorruptStreamError, match="header checksum"):
        Container.from_bytes(bytes(bad))
    bad = bytearray(data)
    bad[-1] ^= 0x40  # inside chunk "main"
    with pytest.raises(CorruptStreamError, match="chunk 'main'"):
        Container.from_bytes(bytes(bad))
    with pytest.raises(CorruptStreamError, match="unexpected bytes"):
        Container.from_bytes(bytes(data) + b"x")


def test_declared_sizes_are_bounded_before_allocation():
    data = bytearray(make().to_bytes())
    struct.pack_into("<I", data, 12, MAX_HEADER_BYTES + 1)
    with pytest.raises(LimitError):
        Container.from_bytes(bytes(data))
    header = make().header()
    header["chunks"][0][1] = 1 << 39  # claims half a terabyte
    with pytest.raises(TruncatedStreamError):
        Container.from_bytes(rebuild(header, b"abc" * 10))
    header = make().header()
    header["media"] = {"kind": "image", "shape": [1 << 20, 1 << 20, 3], "dtype": "uint8"}
    with pytest.raises(LimitError):
        Container.from_bytes(rebuild(header, b"abc" * 10))


@pytest.mark.parametrize("field,value", [
    ("codec", ""), ("codec_version", -1), ("codec_version", True), ("weights", "xyz"), ("quality", "high"),
    ("params", []), ("chunks", [["a", 1]]), ("chunks", [["a", 0, 0], ["a", 0, 0]]),
    ("media", {"kind": "smell", "shape": [1]}), ("media", {"kind": "audio", "shape": [2, 10], "sample_rate": 5}),
    ("media", {"kind": "video", "shape": [2, 4, 4], "fps": [0, 1], "pix_fmt": "yuv420p", "color_space": "bt601"}),
])
def test_malformed_header_fields(field, value):
    header = make().header()
    header[field] = value
    with pytest.raises(FormatError):
        Container.from_bytes(rebuild(header, b"abc" * 10))


def test_header_must_be_json_object():
    for raw in (b"[1, 2]", b"\xff\xfe", b"{\"codec\": NaN}", b"[" * 100000):
        prefix = struct.pack("<8sHHI", MAGIC, 1, 0, len(raw)) + raw
        with pytest.raises(FormatError):
            Container.from_bytes(prefix + struct.pack("<I", zlib.crc32(prefix)))


def test_writer_refuses_invalid_headers():
    with pytest.raises(FormatError):
        make(media={"kind": "image", "shape": [0, 1, 3]}).to_bytes()
