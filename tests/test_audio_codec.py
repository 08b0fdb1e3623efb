"""The learned audio codec (random weights): exact length and rate back, segments without seams,
honest rate estimates, bit-exact decoding across thread counts, bounded memory on long input,
refused corrupt streams and the command line."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import ncodec
from ncodec.checkpoint import save_weights
from ncodec.codecs.audio.wavelet_codec import WaveletAudioCodec
from ncodec.codecs.audio.registry import build_model
from ncodec.container import Container
from ncodec.datasets.samples import load_sample
from ncodec.errors import CorruptStreamError, LimitError, NcodecError


def make_weights(path, seed=0, C=32):
    torch.manual_seed(seed)
    model = build_model("wavelet", C=C, M=16, N=16)
    with torch.no_grad():  # latents of a realistic magnitude
        model.g_a[-1].weight.mul_(40.0)
        model.post.weight.normal_(0, 0.05)
    save_weights(model.state_dict(), path, {"config": model.config()})
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("w") / "wavelet-audio.safetensors")


@pytest.fixture(scope="module")
def codec(weights):
    return WaveletAudioCodec(weights=weights)


def speech(seconds=None, rate=16_000, channels=1):
    a = load_sample("audio")
    x = a.samples[:, : int(seconds * a.sample_rate)] if seconds else a.samples
    if rate != a.sample_rate:
        from ncodec.media_io.audio import resample

        x = resample(x, a.sample_rate, rate)
    return ncodec.Audio(np.ascontiguousarray(np.repeat(x, channels, axis=0)), rate)


@pytest.mark.parametrize("rate,channels,seconds", [(16_000, 1, 1.3), (44_100, 2, 0.77), (8_000, 1, 0.05)])
def test_round_trip_returns_the_input_length_rate_and_channels(codec, rate, channels, seconds):
    a = speech(seconds, rate, channels)
    data = codec.encode(a, 0.5)
    b = codec.decode(data)
    assert b.sample_rate == rate and b.samples.shape == a.samples.shape and b.samples.dtype == np.float32
    assert np.isfinite(b.samples).all() and np.abs(b.samples).max() <= 1.0
    assert np.array_equal(b.samples, codec.decode(data).samples)
    c = Container.from_bytes(data)
    assert set(c.chunks) == {"hyper", "latents"} and c.params["delay"] == 0
    assert sum(c.params["hyper_sizes"]) == len(c.chunks["hyper"])


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_coded_size_is_within_one_percent_and_64_bytes_of_the_estimate(codec, q):
    a = speech()
    c = codec.open(codec.encode(a, q))
    assert abs(codec.payload_bytes(c) - codec.estimate_bits(a, q) / 8) <= 0.01 * codec.payload_bytes(c) + 64


def test_higher_quality_costs_more(codec):
    a = speech()
    assert len(codec.encode(a, 0.0)) < len(codec.encode(a, 1.0))


def test_segments_join_without_seams(codec, monkeypatch):
    """Cut into segments of 8 hyper-latent frames (0.26 s), analysis and synthesis give what one
    segment gives, to float rounding: the margins cover the transforms' receptive fields."""
    a = speech(2.0)
    data = codec.encode(a, 0.5)
    lat = codec.from_chunks(codec.open(data))
    padded = np.zeros(-(-a.num_samples // 512) * 512, np.float32)
    padded[: a.num_samples] = a.samples[0]
    y_one, x_one = codec._analysis(padded, 0.5), codec.synthesise(lat).samples
    monkeypatch.setattr(WaveletAudioCodec, "segment", 8)
    y_cut = codec._analysis(padded, 0.5)
    lat.side["segment"] = 8
    x_cut = codec.synthesise(lat).samples
    assert y_cut.shape == y_one.shape and torch.allclose(y_cut, y_one, atol=1e-4)
    # the periodized packet transform wraps each window: the signal's first and last 64 ms differ
    edge = 1024
    assert np.abs(x_cut - x_one)[:, edge:-edge].max() < 1e-4
    c = Container.from_bytes(codec.encode(a, 0.5))
    assert c.params["segment"] == 8 and len(c.params["latent_sizes"]) == -(-a.num_samples // (8 * 512))
    assert codec.decode(c.to_bytes()).samples.shape == a.samples.shape


def test_latents_without_synthesis(codec, monkeypatch):
    a = speech(1.0)
    data = codec.encode(a, 0.7)
    monkeypatch.setattr(type(codec.model), "synthesis", lambda *a, **k: pytest.fail("synthesis ran"))
    lat = codec.latents(data)
    assert lat.codec == "wavelet-audio" and lat.quality == 0.7
    assert lat.tensors["y"].shape == (1, 16, 4 * 32) and lat.tensors["z"].shape == (1, 16, 32)
    assert lat.tensors["y_hat"].dtype == np.float32
    analysed = codec.analyse(a, 0.7)
    assert np.array_equal(analysed.tensors["y"], lat.tensors["y"])


def test_decode_is_bit_exact_across_thread_counts(weights, tmp_path):
    a = speech(1.5)
    data = WaveletAudioCodec(weights=weights).encode(a, 0.5)
    (tmp_path / "s.ncd").write_bytes(data)
    script = textwrap.dedent(f"""
        import sys, torch, numpy as np
        from ncodec.codecs.audio.wavelet_codec import WaveletAudioCodec
        torch.set_num_threads(int(sys.argv[1]))
        x = WaveletAudioCodec(weights={str(weights)!r}).decode(open({str(tmp_path / 's.ncd')!r}, 'rb').read())
        np.save(sys.argv[2], x.samples)
    """)
    outs = []
    for t in (1, 2):
        path = tmp_path / f"out{t}.npy"
        subprocess.run([sys.executable, "-c", script, str(t), str(path)], check=True)
        outs.append(np.load(path))
    assert np.array_equal(outs[0], outs[1])


def test_ten_minutes_code_in_bounded_memory(weights, tmp_path):
    """10 minutes of a synthetic signal: peak memory above the loaded model stays far below what
    one pass of the transforms over the whole signal would take (about 2 GB)."""
    script = textwrap.dedent(f"""
        import resource, numpy as np, torch
        import ncodec
        from ncodec.codecs.audio.wavelet_codec import WaveletAudioCodec
        torch.set_num_threads(1)
        codec = WaveletAudioCodec(weights={str(weights)!r})
        n = 16_000 * 600
        t = np.arange(n) / 16_000
        x = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)[None]
        codec.decode(codec.encode(ncodec.Audio(x[:, :16_000], 16_000)))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        data = codec.encode(ncodec.Audio(x, 16_000), 0.3)
        y = codec.decode(data)
        assert y.samples.shape == x.shape
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
    """)
    grown_mb = int(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                  text=True).stdout.split()[-1])
    assert grown_mb < 600  # the signal itself is 38 MB; input, output and resampling copies a few times that


def test_corrupt_and_hostile_streams_fail_with_ncodec_errors(codec):
    data = codec.encode(speech(1.0), 0.5)
    c = Container.from_bytes(data)
    bad = [
        {**c.params, "latent_sizes": c.params["latent_sizes"] + [3]},
        {**c.params, "hyper_sizes": [-1]},
        {**c.params, "coder": "nope"},
        {**c.params, "latent_sizes": "x"},
    ]
    for params in bad:
        with pytest.raises(CorruptStreamError):
            codec.decode(Container(c.codec, c.codec_version, c.media, c.chunks, params, c.weights, c.quality).to_bytes())
    for media in ({**c.media, "sample_rate": 0}, {**c.media, "sample_rate": "16k"}, {**c.media, "shape": [1, 0]}):
        with pytest.raises(NcodecError):
            codec.decode(Container(c.codec, c.codec_version, media, c.chunks, c.params, c.weights, c.quality).to_bytes())
    hostile = {**c.media, "shape": [1, 16_000 * 3600 * 100]}
    with pytest.raises(LimitError):
        codec.decode(Container(c.codec, c.codec_version, hostile, c.chunks, c.params, c.weights, c.quality).to_bytes())
    chunks = {**c.chunks, "latents": bytes(len(c.chunks["latents"]))}
    try:
        codec.decode(Container(c.codec, c.codec_version, c.media, chunks, c.params, c.weights, c.quality).to_bytes())
    except NcodecError:
        pass  # zeroed payload bytes may decode to something or be refused, never crash


def test_cli_round_trip_wav_and_flac(weights, tmp_path, capsys):
    from ncodec.cli.main import main
    from ncodec.media_io.audio import read_audio, write_audio

    a = speech(0.9, 22_050, 2)
    for ext in ("wav", "flac"):
        src = tmp_path / f"in.{ext}"
        write_audio(a, src)
        ncd, out = tmp_path / f"{ext}.ncd", tmp_path / f"out-{ext}.wav"
        assert main(["encode", str(src), str(ncd), "--codec", "wavelet-audio", "--weights", str(weights)]) == 0
        assert main(["decode", str(ncd), str(out), "--weights", str(weights)]) == 0
        b = read_audio(out)
        assert b.sample_rate == 22_050 and b.samples.shape == a.samples.shape
    assert main(["info", str(ncd)]) == 0
    shown = capsys.readouterr().out
    assert "hyper" in shown and "latents" in shown


def test_missing_weights_say_how_to_train_them(tmp_path):
    with pytest.raises(NcodecError, match="ncodec train audio"):
        WaveletAudioCodec(weights=tmp_path / "none.safetensors").encode(speech(0.1))
