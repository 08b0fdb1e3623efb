"""Fuzzing decode: mutated and truncated files of each medium give only ncodec errors,
quickly, in bounded memory."""

from __future__ import annotations

import resource
import time
import zlib

import numpy as np
import pytest

import ncodec
from ncodec.container import Container
from ncodec.datasets.samples import load_sample
from ncodec.errors import NcodecError

CASES = 1000
DEEP_CASES = 60
MAX_SECONDS = 5.0
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


def _run(cases, make_input):
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = {"error": 0, "decoded": 0}
    worst = 0.0
    for i in range(cases):
        data = make_input(i)
        t = time.perf_counter()
        try:
            ncodec.decode(data)
            outcomes["decoded"] += 1
        except NcodecError:
            outcomes["error"] += 1
        # anything else propagates and fails the test
        worst = max(worst, time.perf_counter() - t)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert worst < MAX_SECONDS, f"slowest decode took {worst:.2f} s"
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
