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

import numpy as np
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
    """Classical codecs: the recorded output exactly. Learned codecs: the recorded latents exactly
    (on any machine), and the recorded output exactly or, where float32 synthesis rounds
    differently on this CPU, within ``generate.TOLERANCE`` of it."""
    data = (GOLDEN / f"{name}.ncd").read_bytes()
    entry = DIGESTS[name]
    assert hashlib.md5(data).hexdigest() == entry["stream_md5"]
    decoded = ncodec.decode(data)
    if "latents_md5" in entry:
        assert generate.latents_digest(data) == entry["latents_md5"]
    if generate.output_digest(decoded) == entry["output_md5"] or "latents_md5" not in entry:
        assert generate.output_digest(decoded) == entry["output_md5"]
        return
    ref = np.load(GOLDEN / "outputs" / f"{name}.npz")["values"]
    got = generate.output_values(decoded)
    largest, share = generate.TOLERANCE[decoded.kind]
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    assert got.shape == ref.shape and diff.max() <= largest and np.mean(diff > 0) <= share


@pytest.mark.parametrize("name", sorted(n for n, d in DIGESTS.items() if d["bit_stable"]))
def test_encoding_again_writes_the_recorded_stream(name):
    entry = DIGESTS[name]
    codec = get(name, **entry["options"])
    data = codec.encode(generate.sample(codec.kind, name), entry["quality"])
    if name in generate.RUN_RECORDS:
        assert generate.payload_digest(data, name) == entry["payload_md5"]
    else:
        assert hashlib.md5(data).hexdigest() == entry["stream_md5"]


def test_learned_latents_do_not_depend_on_the_cpu_kernels():
    """Decoded with torch's and oneDNN's plainest kernels (no AVX: other float32 rounding than
    the default ones), every learned golden stream gives its recorded latents: the tables come
    from float64 computations (ncodec.determinism.exact), so the entropy decoding never diverges."""
    import os
    import subprocess

    learned = sorted(n for n, d in DIGESTS.items() if "latents_md5" in d)
    script = ("import sys, json; sys.path.insert(0, sys.argv[1]); import generate; "
              "print(json.dumps({n: generate.latents_digest(open(f'{sys.argv[1]}/{n}.ncd', 'rb').read()) "
              "for n in sys.argv[2:]}))")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
    out = subprocess.run([sys.executable, "-c", script, str(GOLDEN), *learned], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out.splitlines()[-1]) == {n: DIGESTS[n]["latents_md5"] for n in learned}
