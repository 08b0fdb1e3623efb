"""The learned audio codecs (random weights): exact length and rate back, segments without seams,
honest rate estimates, bit-exact decoding across thread counts, bounded memory on long input,
refused corrupt streams and the command line; the token prior's skewed tables code exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import ncodec
from ncodec.checkpoint import save_weights
from ncodec.codecs.audio.token_codec import TokenAudioCodec
from ncodec.codecs.audio.wavelet_codec import WaveletAudioCodec
from ncodec.codecs.model_state import learned_state
from ncodec.codecs.audio.registry import build_model
from ncodec.container import Container
from ncodec.datasets.samples import load_sample
from ncodec.errors import CorruptStreamError, LimitError, NcodecError


CODECS = {"wavelet-audio": WaveletAudioCodec, "rvq-audio": TokenAudioCodec}


def make_weights(path, arch="wavelet", seed=0):
    torch.manual_seed(seed)
    if arch == "wavelet":
        model = build_model("wavelet", C=32, M=16, N=16)
        with torch.no_grad():  # latents of a realistic magnitude
            model.g_a[-1].weight.mul_(40.0)
            model.post.weight.normal_(0, 0.05)
    else:
        model = build_model("rvq", C=32, D=16, codebooks=8, size=64, hidden=32)
    save_weights(learned_state(model), path, {"config": model.config()})
    return path


@pytest.fixture(scope="module", params=list(CODECS))
def weights(request, tmp_path_factory):
    arch = CODECS[request.param].arch
    return request.param, make_weights(tmp_path_factory.mktemp("w") / f"{arch}.safetensors", arch)


@pytest.fixture(scope="module")
def codec(weights):
    name, path = weights
    return CODECS[name](weights=path)


def _q(codec, q):
    """Quality ``q`` in [0, 1] as the codec's knob (codebooks for the token codec)."""
    if codec.integer_quality:
        return round(1 + q * (codec.model.codebooks - 1))
    return q


def _load(name, path):
    return CODECS[name](weights=path)


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
    data = codec.encode(a, _q(codec, 0.5))
    b = codec.decode(data)
    assert b.sample_rate == rate and b.samples.shape == a.samples.shape and b.samples.dtype == np.float32
    assert np.isfinite(b.samples).all() and np.abs(b.samples).max() <= 1.0
    assert np.array_equal(b.samples, codec.decode(data).samples)
    c = Container.from_bytes(data)
    assert c.params["delay"] == 0
    if codec.name == "wavelet-audio":
        assert set(c.chunks) == {"hyper", "latents"} and sum(c.params["hyper_sizes"]) == len(c.chunks["hyper"])
    else:
        assert set(c.chunks) == {"tokens"}


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_coded_size_is_within_one_percent_and_64_bytes_of_the_estimate(codec, q):
    a = speech()
    c = codec.open(codec.encode(a, _q(codec, q)))
    assert abs(codec.payload_bytes(c) - codec.estimate_bits(a, _q(codec, q)) / 8) <= 0.01 * codec.payload_bytes(c) + 64


def test_higher_quality_costs_more(codec):
    a = speech()
    assert len(codec.encode(a, _q(codec, 0.0))) < len(codec.encode(a, _q(codec, 1.0)))


def test_segments_join_without_seams(codec, monkeypatch):
    """Cut into segments of 8 strides (0.26 s / 0.16 s), analysis and synthesis give what one
    segment gives, to float rounding: the margins cover the transforms' receptive fields."""
    a = speech(2.0)
    m = codec.model
    lat = codec.analyse(a, _q(codec, 0.5))
    padded = codec._model_signal(a)
    analysis = (lambda x: m.analysis(x, m.gain.quality_tensor(0.5, 1))) if codec.name == "wavelet-audio" else m.analysis
    frame = getattr(m, "frame", m.stride)
    one = codec._windowed_analysis(padded, analysis, frame, codec.segment)
    x_one = codec.synthesise(lat).samples
    monkeypatch.setattr(type(codec), "segment", 8)
    cut = codec._windowed_analysis(padded, analysis, frame, 8)
    lat.side["segment"] = 8
    x_cut = codec.synthesise(lat).samples
    assert cut.shape == one.shape and torch.allclose(cut, one, atol=1e-4)
    # the periodized packet transform wraps each window: the signal's first and last 64 ms differ
    edge = 1024
    assert np.abs(x_cut - x_one)[:, edge:-edge].max() < 1e-4
    c = Container.from_bytes(codec.encode(a, _q(codec, 0.5)))
    assert c.params["segment"] == 8
    assert codec.decode(c.to_bytes()).samples.shape == a.samples.shape


def test_latents_without_synthesis(codec, monkeypatch):
    a = speech(1.0)
    q = _q(codec, 0.7)
    data = codec.encode(a, q)
    monkeypatch.setattr(type(codec.model), "synthesis", lambda *a, **k: pytest.fail("synthesis ran"))
    lat = codec.latents(data)
    assert lat.codec == codec.name and lat.quality == q
    analysed = codec.analyse(a, q)
    if codec.name == "wavelet-audio":
        assert lat.tensors["y"].shape == (1, 16, 4 * 32) and lat.tensors["z"].shape == (1, 16, 32)
        assert lat.tensors["y_hat"].dtype == np.float32 and np.array_equal(analysed.tensors["y"], lat.tensors["y"])
    else:
        assert lat.tensors["tokens"].shape == (1, q, 50) and lat.tensors["v_hat"].shape == (1, 16, 50)
        assert np.array_equal(analysed.tensors["tokens"], lat.tensors["tokens"])


def test_decode_is_bit_exact_across_thread_counts(weights, tmp_path):
    name, path = weights
    codec = _load(name, path)
    data = codec.encode(speech(1.5), _q(codec, 0.5))
    (tmp_path / "s.ncd").write_bytes(data)
    script = textwrap.dedent(f"""
        import sys, torch, numpy as np
        from ncodec.codecs.registry import get
        torch.set_num_threads(int(sys.argv[1]))
        x = get({name!r}, weights={str(path)!r}).decode(open({str(tmp_path / 's.ncd')!r}, 'rb').read())
        np.save(sys.argv[2], x.samples)
    """)
    outs = []
    for t in (1, 2):
        out = tmp_path / f"out{t}.npy"
        subprocess.run([sys.executable, "-c", script, str(t), str(out)], check=True)
        outs.append(np.load(out))
    assert np.array_equal(outs[0], outs[1])


def test_ten_minutes_code_in_bounded_memory(tmp_path):
    """10 minutes of a synthetic signal: peak memory above the loaded model stays far below what
    one pass of the transforms over the whole signal would take (about 2 GB)."""
    path = make_weights(tmp_path / "w.safetensors")
    script = textwrap.dedent(f"""
        import resource, numpy as np, torch
        import ncodec
        from ncodec.codecs.audio.wavelet_codec import WaveletAudioCodec
        torch.set_num_threads(1)
        codec = WaveletAudioCodec(weights={str(path)!r})
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
    data = codec.encode(speech(1.0), _q(codec, 0.5))
    c = Container.from_bytes(data)

    def decode(media=c.media, params=c.params, chunks=c.chunks, quality=c.quality):
        return codec.decode(Container(c.codec, c.codec_version, media, chunks, params, c.weights, quality).to_bytes())

    bad = [{**c.params, "coder": "nope"}, {**c.params, "segment": 0}, {**c.params, "segment": True}]
    if codec.name == "wavelet-audio":
        bad += [{**c.params, "latent_sizes": c.params["latent_sizes"] + [3]}, {**c.params, "hyper_sizes": [-1]},
                {**c.params, "latent_sizes": "x"}]
    for params in bad:
        with pytest.raises(CorruptStreamError):
            decode(params=params)
    for media in ({**c.media, "sample_rate": 0}, {**c.media, "sample_rate": "16k"}, {**c.media, "shape": [1, 0]}):
        with pytest.raises(NcodecError):
            decode(media=media)
    with pytest.raises(LimitError):
        decode(media={**c.media, "shape": [1, 16_000 * 3600 * 100]})
    if codec.name == "rvq-audio":
        with pytest.raises(NcodecError):
            decode(quality=float(codec.model.codebooks + 1))
    for name, chunk in c.chunks.items():
        for damaged in (bytes(len(chunk)), chunk[: len(chunk) // 2], chunk[:-4] + b"\xff\xff\xff\xff"):
            try:
                decode(chunks={**c.chunks, name: damaged})
            except NcodecError:
                pass  # damaged payload bytes may decode to other audio or be refused, never crash


def test_cli_round_trip_wav_and_flac(weights, tmp_path, capsys):
    from ncodec.cli.main import main
    from ncodec.media_io.audio import read_audio, write_audio

    name, path = weights
    a = speech(0.9, 22_050, 2)
    for ext in ("wav", "flac"):
        src = tmp_path / f"in.{ext}"
        write_audio(a, src)
        ncd, out = tmp_path / f"{ext}.ncd", tmp_path / f"out-{ext}.wav"
        assert main(["encode", str(src), str(ncd), "--codec", name, "--weights", str(path)]) == 0
        assert main(["decode", str(ncd), str(out), "--weights", str(path)]) == 0
        b = read_audio(out)
        assert b.sample_rate == 22_050 and b.samples.shape == a.samples.shape
    capsys.readouterr()
    assert main(["info", str(ncd)]) == 0
    shown = capsys.readouterr().out
    assert all(part in shown for part in ((["hyper", "latents"]) if name == "wavelet-audio" else ["tokens"]))


def test_missing_weights_say_how_to_train_them(tmp_path):
    for cls in CODECS.values():
        with pytest.raises(NcodecError, match=f"ncodec train audio --arch {cls.arch}"):
            cls(weights=tmp_path / "none.safetensors").encode(speech(0.1))


def test_a_skewed_token_prior_codes_exactly_and_saves_bits(tmp_path):
    """A prior that favours some tokens (trained priors do) codes the same tokens in fewer bits
    than fixed-length indices, and the decoder, walking the prior symbol by symbol, gets them back."""
    torch.manual_seed(1)
    model = build_model("rvq", C=32, D=16, codebooks=8, size=64, hidden=32)
    with torch.no_grad():
        model.prior.bias.copy_(torch.linspace(4, -4, 64).repeat(8, 1))
        model.rvq.embed.mul_(torch.linspace(0, 30, 64)[None, :, None])  # low indices nearest: most tokens
    path = tmp_path / "skewed.safetensors"
    save_weights(learned_state(model), path, {"config": model.config()})
    for coder in ("ans", "range"):
        codec = TokenAudioCodec(weights=path, coder=coder)
        a = speech(1.0)
        data = codec.encode(a, 8)
        lat = codec.latents(data)
        assert np.array_equal(lat.tensors["tokens"], codec.analyse(a, 8).tensors["tokens"])
        assert codec.payload_bytes(codec.open(data)) < 0.9 * codec.fixed_length_bits(lat) / 8


SHARED_SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "speech"


@pytest.mark.parametrize("name,quality", [("wavelet-audio", 0.3), ("rvq-audio", 12)])
def test_shipped_weights_code_every_dev_speech_clip_within_the_estimate(name, quality):
    """The shipped models on the 24 dev speech clips (16 kHz mono copies): coded chunks within
    1 % + 64 bytes of the model's own estimate, and the exact length back."""
    if not SHARED_SPEECH.is_dir():
        pytest.skip("../shared/data/audio/speech is not here")
    from ncodec.media_io.audio import AUDIO_READ_EXTS, read_audio

    codec = CODECS[name]()
    files = sorted(p for p in SHARED_SPEECH.iterdir() if p.suffix.lower() in AUDIO_READ_EXTS)
    assert len(files) == 24
    for f in files:
        a = read_audio(f, sample_rate=16_000, mono=True)
        c = codec.open(codec.encode(a, quality))
        n = codec.payload_bytes(c)
        assert abs(n - codec.estimate_bits(a, quality) / 8) <= 0.01 * n + 64, f.name
        assert codec.decode(c).samples.shape == a.samples.shape


def test_the_coding_path_of_the_token_prior_is_its_training_maths():
    """StepPrior (float64 numpy, one token at a time: what encoder and decoder run) gives the
    logits the teacher-forced training pass gives, to float32 rounding."""
    from ncodec.codecs.audio.token_prior import StepPrior

    torch.manual_seed(0)
    m = build_model("rvq", C=16, D=16, codebooks=6, size=64, hidden=32)
    with torch.no_grad():
        for p in m.prior.parameters():
            p.normal_(0, 0.3)
        tokens = torch.randint(0, 64, (1, 6, 7))
        ref = m.prior.logits(tokens, m.rvq.embed).double()[0]  # frames x codebooks x V
    step = StepPrior(m.prior, m.rvq.embed)
    h, worst = step.start(), 0.0
    for t in range(7):
        partial = np.zeros(16)
        for k in range(6):
            worst = max(worst, float(np.abs(step.frame_logits(h, partial, k) - ref[t, k].numpy()).max()))
            partial = partial + step.embed[k, tokens[0, k, t]]
        h = step.advance(h, partial)
    assert worst < 1e-5 < float(ref.abs().max())


# ---------------------------------------------------------------------- channel modes (wavelet-music)
@pytest.fixture(scope="module")
def music(tmp_path_factory):
    from ncodec.codecs.audio.wavelet_codec import WaveletMusicCodec

    torch.manual_seed(3)
    model = build_model("wavelet", C=32, M=16, N=16, levels=5, sample_rate=44_100)
    with torch.no_grad():
        model.g_a[-1].weight.mul_(40.0)
    path = tmp_path_factory.mktemp("music") / "music.safetensors"
    save_weights(learned_state(model), path, {"config": model.config()})
    return WaveletMusicCodec(weights=path)


def stereo(seconds=0.8, rate=44_100, width=0.5):
    """Speech on the left, a delayed, quieter copy plus a tone on the right (``width`` scales the difference)."""
    x = speech(seconds, rate).samples[0]
    t = np.arange(len(x)) / rate
    right = 0.7 * np.roll(x, 40) + 0.1 * np.sin(2 * np.pi * 330 * t)
    return ncodec.Audio(np.stack([x, x + width * (right - x)]).astype(np.float32), rate)


@pytest.mark.parametrize("channels,mode", [(1, None), (2, "mid-side"), (3, "separate")])
def test_music_codec_codes_each_channel_count_in_its_mode(music, channels, mode):
    a = stereo()
    a = ncodec.Audio(np.ascontiguousarray(np.concatenate([a.samples, a.samples[:1] * 0.5])[:channels]), a.sample_rate)
    data = music.encode(a, 0.5)
    c = Container.from_bytes(data)
    assert c.params.get("channels") == mode
    assert c.chunks["hyper"] and c.chunks["latents"]
    b = music.decode(data)
    assert b.samples.shape == a.samples.shape and b.sample_rate == a.sample_rate
    real = sum(len(v) for v in c.chunks.values())
    assert abs(real - music.estimate_bits(a, 0.5) / 8) <= 0.01 * real + 64


def test_mid_side_is_the_two_mono_signals_coded_together(music):
    """A stereo stream's latents are those of its mid and side signals coded alone, and its
    decoded channels are ``M + S`` and ``M - S`` of the decoded signals."""
    a = stereo()
    lat = music.analyse(a, 0.5)
    assert lat.tensors["y"].shape[0] == 2
    left, right = a.samples
    for k, signal in enumerate(((left + right) / 2, (left - right) / 2)):
        alone = music.analyse(ncodec.Audio(signal[None].astype(np.float32), a.sample_rate), 0.5)
        assert np.mean(alone.tensors["y"][0] == lat.tensors["y"][k]) > 0.99
    m = music.model
    x = music._windowed_synthesis(torch.from_numpy(lat.tensors["y_hat"]), lambda v: m.synthesise(v, 0.5),
                                  m.frame, music.segment)
    out = music.synthesise(lat).samples
    n = a.samples.shape[1]
    assert np.array_equal(out, np.clip(np.stack([x[0] + x[1], x[0] - x[1]])[:, :n], -1, 1))


def test_a_mid_side_header_on_a_mono_stream_is_refused(music):
    c = Container.from_bytes(music.encode(speech(0.5, 44_100), 0.5))
    for params in ({**c.params, "channels": "mid-side"}, {**c.params, "channels": "surround"}):
        bad = Container(c.codec, c.codec_version, c.media, c.chunks, params, c.weights, c.quality)
        with pytest.raises(CorruptStreamError, match="channel mode"):
            music.decode(bad.to_bytes())


SHARED_MUSIC = SHARED_SPEECH.parent / "music"


def test_shipped_music_weights_code_every_dev_music_clip_within_the_estimate():
    """wavelet-music on 6 s of each dev music file (44.1 kHz stereo): mid/side streams, coded
    chunks within 1 % + 64 bytes of the estimate, the exact shape back; and with the trained
    hyperprior, a near-mono copy of a clip costs less than the clip itself (its side is small)."""
    if not SHARED_MUSIC.is_dir():
        pytest.skip("../shared/data/audio/music is not here")
    from ncodec.codecs.audio.wavelet_codec import WaveletMusicCodec
    from ncodec.media_io.audio import AUDIO_READ_EXTS, read_audio

    codec = WaveletMusicCodec()
    files = sorted(p for p in SHARED_MUSIC.iterdir() if p.suffix.lower() in AUDIO_READ_EXTS)
    assert len(files) == 8
    for f in files:
        full = read_audio(f)
        start = min(full.num_samples // 3, max(0, full.num_samples - 6 * full.sample_rate))
        a = ncodec.Audio(np.ascontiguousarray(full.samples[:, start:start + 6 * full.sample_rate]), full.sample_rate)
        c = codec.open(codec.encode(a, 0.5))
        assert c.params.get("channels") == ("mid-side" if a.channels == 2 else None), f.name
        n = codec.payload_bytes(c)
        assert abs(n - codec.estimate_bits(a, 0.5) / 8) <= 0.01 * n + 64, f.name
        assert codec.decode(c).samples.shape == a.samples.shape
    mid = a.samples.mean(axis=0)
    narrow = ncodec.Audio(np.stack([mid + 0.01 * (a.samples[0] - mid), mid - 0.01 * (a.samples[0] - mid)]), a.sample_rate)
    assert codec.estimate_bits(narrow, 0.5) < codec.estimate_bits(a, 0.5)
