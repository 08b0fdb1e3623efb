"""The ncodec command: round trips through files, info, codecs, and clean failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ncodec
from ncodec.cli.main import main
from ncodec.codecs import codec_class, get, names
from ncodec.media_io import read_media, write_media
from ncodec.datasets.samples import load_sample, sample_path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EXACT_OUT = {"image": ".png", "video": ".y4m", "audio": ".wav"}
CLASSICAL = [n for n in names() if not codec_class(n).learned]
FAST_QUALITY = {"h264": 30, "h265": 32, "av1": 45, "vp9": 45}


def short(media):
    if media.kind == "video":
        return ncodec.Video(tuple(p[:8] for p in media.planes), media.fps, media.pix_fmt, media.color_space)
    if media.kind == "audio":
        return ncodec.Audio(media.samples[:, : 2 * media.sample_rate], media.sample_rate)
    return media


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    paths = {}
    for kind, ext in EXACT_OUT.items():
        paths[kind] = d / f"sample{ext}"
        write_media(short(load_sample(kind)), paths[kind])
    return paths


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ncodec.cli.main", *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("codec", CLASSICAL)
def test_every_codec_round_trips_through_the_cli(codec, inputs, tmp_path, capsys):
    kind = get(codec).kind
    ncd = tmp_path / "x.ncd"
    q = FAST_QUALITY.get(codec)
    args = ["encode", "-c", codec] + (["-q", str(q)] if q is not None else []) + [inputs[kind], ncd]
    assert main(args) == 0, capsys.readouterr().err
    out = tmp_path / f"y{EXACT_OUT[kind]}"
    assert main(["decode", ncd, out]) == 0, capsys.readouterr().err
    decoded = read_media(out)
    assert decoded.metadata()["shape"] == ncodec.decode(ncd.read_bytes()).metadata()["shape"]
    # the written file holds exactly what the API decodes (PNG / Y4M / WAV are exact)
    api = ncodec.decode(ncd.read_bytes())
    if kind == "image":
        assert np.array_equal(decoded.pixels, api.pixels)
    elif kind == "video":
        assert all(np.array_equal(a, b) for a, b in zip(decoded.to_yuv420().planes, api.to_yuv420().planes))
    else:
        assert np.max(np.abs(decoded.samples - api.samples)) <= 1 / 32767 + 1e-7
    capsys.readouterr()
    assert main(["info", "--json", ncd]) == 0
    info = json.loads(_last_json(capsys))
    assert info["codec"] == codec and info["file_bytes"] == ncd.stat().st_size


def _last_json(capsys):
    text = capsys.readouterr().out
    return text[text.index("{"):]


REAL = {"image": "images/kodak/kodim23.png", "video": "video/realshort_320x240.mp4",
        "audio": "audio/speech/speechbrain_ASR_spk1_snt1.wav"}


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present")
@pytest.mark.parametrize("codec", CLASSICAL)
def test_real_media_through_the_cli(codec, tmp_path, capsys):
    kind = get(codec).kind
    src = SHARED / REAL[kind]
    ncd = tmp_path / "real.ncd"
    q = FAST_QUALITY.get(codec)
    args = ["encode", "-c", codec] + (["-q", str(q)] if q is not None else []) + [src, ncd]
    assert main(args) == 0, capsys.readouterr().err
    out = tmp_path / f"real{EXACT_OUT[kind]}"
    assert main(["decode", ncd, out]) == 0, capsys.readouterr().err
    original, decoded = read_media(src), read_media(out)
    assert decoded.metadata()["shape"] == original.metadata()["shape"]


def test_info_table_and_codecs_table(inputs, tmp_path):
    ncd = tmp_path / "a.ncd"
    assert run_cli("encode", "-c", "webp", "-q", "70", inputs["image"], ncd).returncode == 0
    r = run_cli("info", ncd)
    assert r.returncode == 0 and "codec" in r.stdout and "webp" in r.stdout and "chunk" in r.stdout
    r = run_cli("codecs")
    assert r.returncode == 0
    for n in names():  # learned codecs are listed too, with their weights status
        assert n in r.stdout


@pytest.mark.parametrize("case", ["missing", "unknown_codec", "bad_quality", "corrupt", "truncated", "not_ncd",
                                  "unsupported_out", "wrong_kind"])
def test_bad_input_fails_cleanly(case, inputs, tmp_path):
    good = tmp_path / "good.ncd"
    assert main(["encode", "-c", "jpeg", inputs["image"], good]) == 0
    data = good.read_bytes()
    out = tmp_path / "out.png"
    if case == "missing":
        args = ["encode", "-c", "jpeg", tmp_path / "nope.png", tmp_path / "o.ncd"]
        out = tmp_path / "o.ncd"
    elif case == "unknown_codec":
        args = ["encode", "-c", "jpeg9000", inputs["image"], tmp_path / "o.ncd"]
        out = tmp_path / "o.ncd"
    elif case == "bad_quality":
        args = ["encode", "-c", "jpeg", "-q", "1000", inputs["image"], tmp_path / "o.ncd"]
        out = tmp_path / "o.ncd"
    elif case == "wrong_kind":
        args = ["encode", "-c", "opus", inputs["image"], tmp_path / "o.ncd"]
        out = tmp_path / "o.ncd"
    elif case == "unsupported_out":
        args = ["decode", good, tmp_path / "out.xyz"]
        out = tmp_path / "out.xyz"
    else:
        bad = tmp_path / "bad.ncd"
        if case == "corrupt":
            b = bytearray(data)
            b[len(b) // 2] ^= 0xFF
            bad.write_bytes(bytes(b))
        elif case == "truncated":
            bad.write_bytes(data[: len(data) // 2])
        else:
            bad.write_bytes(inputs["image"].read_bytes())
        args = ["decode", bad, out]
    r = run_cli(*args)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and r.stderr.startswith("ncodec: error:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))  # no temporary left behind


def test_existing_output_needs_force(inputs, tmp_path):
    ncd = tmp_path / "a.ncd"
    ncd.write_bytes(b"precious")
    r = run_cli("encode", "-c", "jpeg", inputs["image"], ncd)
    assert r.returncode != 0 and "--force" in r.stderr and ncd.read_bytes() == b"precious"
    assert run_cli("encode", "-f", "-c", "jpeg", inputs["image"], ncd).returncode == 0
    assert ncd.read_bytes()[:4] == b"\x89NCD"


def test_samples_are_small_and_bundled():
    total = sum(sample_path(k).stat().st_size for k in ("image", "video", "audio"))
    assert total < 500_000
