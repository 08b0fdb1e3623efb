"""Streams and outputs stay as they were: the golden files in tests/golden/ (see generate.py).

Two checks per codec: the stored stream decodes to the recorded output (streams written
before a change still decode identically), and encoding the same sample again writes the
recorded stream (for NeRV codecs: the same chunks and header, leaving out the fit's wall
time; for x264/x265/SVT-AV1/libvpx, whose encoders are not bit-stable, by decode only).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

import ncodec
from ncodec.codecs import get

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
import generate  # noqa: E402

DIGESTS = json.loads((GOLDEN / "digests.json").read_text())


def test_every_codec_has_a_golden_stream():
    from ncodec.codecs import names

    assert sorted(DIGESTS) == sorted(names())


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_golden_stream_decodes_to_the_recorded_output(name):
    data = (GOLDEN / f"{name}.ncd").read_bytes()
    assert hashlib.md5(data).hexdigest() == DIGESTS[name]["stream_md5"]
    assert generate.output_digest(ncodec.decode(data)) == DIGESTS[name]["output_md5"]


@pytest.mark.parametrize("name", sorted(n for n, d in DIGESTS.items() if d["bit_stable"]))
def test_encoding_again_writes_the_recorded_stream(name):
    entry = DIGESTS[name]
    codec = get(name, **entry["options"])
    data = codec.encode(generate.sample(codec.kind), entry["quality"])
    if name in generate.RUN_RECORDS:
        assert generate.payload_digest(data, name) == entry["payload_md5"]
    else:
        assert hashlib.md5(data).hexdigest() == entry["stream_md5"]
