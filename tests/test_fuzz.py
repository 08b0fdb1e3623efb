"""Fuzzing decode: mutated and truncated files of each medium give only ncodec errors,
quickly, in bounded memory."""

from __future__ import annotations

import resource
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import ncodec
from ncodec.container import Container
from ncodec.datasets.samples import load_sample
from ncodec.errors import LimitError, NcodecError

CASES = 1000
DEEP_CASES = 60
MAX_SECONDS = 5.0
MIN_REALTIME = 2.0  # learned audio decoders may take half the declared duration on top
MAX_RSS_GROWTH_MB = 400


def _short(media):
    """Keep decodes cheap: a few frames / a second of audio."""
    if media.kind == "video":
        return ncodec.Video(tuple(p[:6] for p in media.planes), media.fps, media.pix_fmt, media.color_space)
    if media.kind == "audio":
        return ncodec.Audio(media.samples[:, : media.sample_rate], media.sample_rate)
    return media


VALID = {"image": ("jpeg", 60), "video": ("h264", None), "audio": ("opus", 24)}


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    op = rng.integers(0, 5)
    if op == 0:  # flip a few bits anywhere
        for _ in range(rng.integers(1, 9)):
            i = rng.integers(0, len(b))
            b[i] ^= 1 << int(rng.integers(0, 8))
    elif op == 1:  # truncate
        b = b[: rng.integers(0, len(b))]
    elif op == 2:  # overwrite a run with random bytes
        i = rng.integers(0, len(b))
        n = int(rng.integers(1, 64))
        b[i:i + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    elif op == 3:  # insert or delete bytes
        i = rng.integers(0, len(b))
        if rng.random() < 0.5:
            b[i:i] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        else:
            del b[i:i + int(rng.integers(1, 16))]
    else:  # target the fixed prefix (magic, versions, header length)
        i = rng.integers(0, 16)
        b[i] = int(rng.integers(0, 256))
    return bytes(b)


def _deep_mutate(c: Container, rng: np.random.Generator) -> bytes:
    """Damage a payload and keep the checksums valid, so the codec's own decoder sees it."""
    name = list(c.chunks)[0]
    payload = bytearray(c.chunks[name])
    if rng.random() < 0.3:
        payload = payload[: rng.integers(0, len(payload))]
    else:
        for _ in range(rng.integers(1, 20)):
            i = rng.integers(0, len(payload))
            payload[i] = int(rng.integers(0, 256))
    chunks = dict(c.chunks)
    chunks[name] = bytes(payload)
    return Container(c.codec, c.codec_version, c.media, chunks, c.params, c.weights, c.quality).to_bytes()


def _declared_seconds(data: bytes) -> float:
    """Seconds of audio a stream's header declares (0 for other media or a header that is not one)."""
    try:
        media = Container.from_bytes(data).media
        return float(media["shape"][1]) / float(media["sample_rate"]) if media.get("kind") == "audio" else 0.0
    except (NcodecError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return 0.0


def _run(cases, make_input, **options):
    """Decode hostile inputs: only ncodec errors, within MAX_SECONDS (plus, for audio, half the
    duration the header declares: learned audio decoders are allowed 2x real time) and bounded memory."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = {"error": 0, "decoded": 0}
    worst = 0.0
    for i in range(cases):
        data = make_input(i)
        t = time.perf_counter()
        try:
            ncodec.decode(data, **options)
            outcomes["decoded"] += 1
        except NcodecError:
            outcomes["error"] += 1
        # anything else propagates and fails the test
        worst = max(worst, time.perf_counter() - t - _declared_seconds(data) / MIN_REALTIME)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert worst < MAX_SECONDS, f"slowest decode took {worst:.2f} s beyond its allowance"
    assert growth_mb < MAX_RSS_GROWTH_MB, f"peak memory grew by {growth_mb:.0f} MB"
    return outcomes


@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_fuzz_mutations_and_truncations(kind):
    codec, q = VALID[kind]
    data = ncodec.encode(_short(load_sample(kind)), codec, q)
    ncodec.decode(data)  # the unmutated file is fine
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    outcomes = _run(CASES, lambda i: _mutate(data, rng))
    assert outcomes["error"] >= CASES * 0.99  # checksums catch (nearly) everything


@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_fuzz_payloads_behind_valid_checksums(kind):
    codec, q = VALID[kind]
    c = Container.from_bytes(ncodec.encode(_short(load_sample(kind)), codec, q))
    rng = np.random.default_rng(1 + zlib.crc32(kind.encode()))
    _run(DEEP_CASES, lambda i: _deep_mutate(c, rng))


# ---------------------------------------------------------------------- learned streams
GOLDEN = Path(__file__).resolve().parent / "golden"
LEARNED_CASES = 40
LEARNED_MEMORY = "512M"  # the decoders' memory limit in these runs (the default is 8 GiB; stereo music needs 330 MiB)


def _random_shape(kind: str, rng: np.random.Generator) -> list[int]:
    big = lambda: int(rng.integers(1, 10 ** int(rng.integers(1, 8))))  # noqa: E731
    if kind == "image":
        return [big(), big(), int(rng.choice([1, 3]))]
    if kind == "audio":
        return [int(rng.integers(1, 9)), big()]
    return [int(rng.integers(1, 300)), big(), big()]


def _perturb(value, rng: np.random.Generator):
    """A hostile variant of one header value: scaled, negative, huge, or of another type."""
    if isinstance(value, bool) or not isinstance(value, (int, float, list, dict, str)):
        return rng.choice(["x", -1, 1 << 40])
    if isinstance(value, (int, float)):
        return [0, -1, 1 << 31, value * int(rng.integers(2, 1000)), 1e300, "7"][int(rng.integers(0, 6))]
    if isinstance(value, list):
        v = list(value)
        if v and rng.random() < 0.7:
            i = int(rng.integers(0, len(v)))
            v[i] = _perturb(v[i], rng)
        else:
            v = v * int(rng.integers(0, 4))
        return v
    if isinstance(value, dict):
        v = dict(value)
        if v:
            k = list(v)[int(rng.integers(0, len(v)))]
            if rng.random() < 0.2:
                del v[k]
            else:
                v[k] = _perturb(v[k], rng)
        return v
    return rng.choice(["", "transformer", value * 3])


def _learned_mutate(c: Container, rng: np.random.Generator) -> bytes:
    """Declared shapes, quality, params or chunk contents changed, checksums kept valid."""
    media, params, quality, chunks = dict(c.media), dict(c.params), c.quality, dict(c.chunks)
    op = int(rng.integers(0, 4))
    if op == 0:
        media["shape"] = _random_shape(media["kind"], rng)
        if media["kind"] == "video" and "config" in params:  # keep the config consistent half the time
            if rng.random() < 0.5:
                t, h, w = media["shape"]
                params["config"] = {**params["config"], "frames": t, "height": h, "width": w}
    elif op == 1:
        quality = float(rng.choice([-1.0, 0.0, 1.0, 2.0, 1e9, float(rng.random())]))
    elif op == 2:
        params = _perturb(params, rng) if params else {"coder": "range", "refine_steps": -3}
    else:
        return _deep_mutate(c, rng)
    try:
        return Container(c.codec, c.codec_version, media, chunks, params, c.weights, quality).to_bytes()
    except NcodecError:  # the container itself refuses it: still a hostile file, made another way
        return _mutate(c.to_bytes(), rng)


@pytest.mark.parametrize("name", ["checkerboard", "hnerv", "wavelet-audio", "wavelet-music", "rvq-audio"])
def test_fuzz_learned_headers_and_payloads_behind_valid_checksums(name):
    data = (GOLDEN / f"{name}.ncd").read_bytes()
    ncodec.decode(data, max_memory=LEARNED_MEMORY)  # loads the model before memory is measured
    c = Container.from_bytes(data)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    outcomes = _run(LEARNED_CASES, lambda i: _learned_mutate(c, rng), max_memory=LEARNED_MEMORY)
    # shapes, params: refused; payload bytes may decode. An audio header may declare any length and
    # channel count that keeps its segment count (up to 10 s here) and still be a valid stream.
    assert outcomes["error"] >= LEARNED_CASES // (8 if c.media["kind"] == "audio" else 4)


def test_hostile_declared_size_is_refused_before_allocation():
    """A 9.8 KB-like checkerboard stream declaring a 1 x 10,000,000 image (within the container's
    limits, CRC valid) is refused from its header with the default limit: quickly, in bounded memory."""
    c = Container.from_bytes((GOLDEN / "checkerboard.ncd").read_bytes())
    ncodec.decode(c.to_bytes())
    hostile = Container(c.codec, c.codec_version, {**c.media, "shape": [1, 10_000_000, 3]}, c.chunks, c.params,
                        c.weights, c.quality).to_bytes()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(LimitError, match="GiB, over the limit of 8.0 GiB"):
        ncodec.decode(hostile)
    assert time.perf_counter() - t < MAX_SECONDS
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024 < MAX_RSS_GROWTH_MB


@pytest.mark.parametrize("name", ["checkerboard", "hnerv", "wavelet-audio", "wavelet-music", "rvq-audio"])
def test_memory_limit_is_an_option(name):
    data = (GOLDEN / f"{name}.ncd").read_bytes()
    with pytest.raises(LimitError, match="over the limit of 1.0 KiB"):
        ncodec.decode(data, max_memory="1K")
    assert ncodec.decode(data, max_memory="2G").kind == Container.from_bytes(data).media["kind"]
    with pytest.raises(LimitError, match="memory limit"):
        ncodec.decode(data, max_memory="lots")
