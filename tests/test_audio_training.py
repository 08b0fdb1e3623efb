"""Audio training: the fixed speaker split, dev sets refused, exact resume after a kill, torchrun
with 2 processes, and exported weights that load as codecs (both architectures)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ncodec
from ncodec.codecs.audio.training_data import is_held_out, speaker_of, speaker_split
from ncodec.container import Container
from ncodec.media_io.audio import write_audio

RATE = 16_000


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """Three training speakers, one held out, and an 8 kHz file that must be left out."""
    d = tmp_path_factory.mktemp("speech")
    speakers = [f"syn_s{i}" for i in range(40)]
    train = [s for s in speakers if not is_held_out(s)][:3]
    held = [s for s in speakers if is_held_out(s)][:1]
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    for s in train + held:
        for j in range(2):
            f0 = rng.uniform(90, 220)
            x = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
            x = 0.1 * x / np.abs(x).max() + 0.003 * rng.standard_normal(RATE)
            write_audio(ncodec.Audio(x.astype(np.float32)[None], RATE), d / f"{s}_{j}.wav")
    write_audio(ncodec.Audio(np.zeros((1, 8000), np.float32), 8000), d / f"{train[0]}_narrow.wav")
    return d


def _args(data, out, steps, arch="wavelet"):
    model = ["--C", "16", "--M", "8", "--N", "8"] if arch == "wavelet" else ["--C", "16", "--D", "8", "--codebooks", "4"]
    return ["train", "audio", "--arch", arch, "--data", str(data), "--steps", str(steps), "--batch", "2",
            "--crop-seconds", "0.128", "--threads", "1", "--no-progress", "--out", str(out), *model]


def test_speaker_split_is_fixed_and_disjoint(train_dir):
    files = sorted(train_dir.glob("*.wav"))
    train, held = speaker_split(files)
    assert train and held
    assert not {speaker_of(f) for f in train} & {speaker_of(f) for f in held}
    assert speaker_of(Path("librispeech_1234_5678-0001.flac")) == "librispeech_1234"
    # a fixed function of the speaker label: the shared set's split (the shipped weights' held-out
    # speakers, BENCHMARKS' results) never moves
    assert [is_held_out(s) for s in ("asterisk_it-carlo", "librispeech_27", "vctk_p287", "librispeech_19")] == \
        [True, True, False, False]
    wb = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "train_speech_wb"
    if wb.is_dir():
        tr, ho = speaker_split(sorted(wb.glob("*.flac")))
        assert (len(tr), len(ho), len({speaker_of(f) for f in ho})) == (329, 52, 28)


def test_dev_sets_are_refused(tmp_path, capsys):
    from ncodec.cli.main import main

    dev = tmp_path / "audio" / "speech"
    dev.mkdir(parents=True)
    assert main(_args(dev, tmp_path / "run", 1)) == 1
    assert "dev set" in capsys.readouterr().err


def _run(args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ncodec.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("arch", ["wavelet", "rvq"])
def test_resume_after_a_kill_is_exact(train_dir, tmp_path, arch):
    """Killed (SIGTERM) mid-run and re-run, training ends with the weights of one straight run."""
    from ncodec.checkpoint import load_weights

    steps = 30
    straight = _run(_args(train_dir, tmp_path / "a", steps, arch))
    assert straight.wait(timeout=300) == 0, straight.stderr.read()[-2000:]
    killed = _run(_args(train_dir, tmp_path / "b", steps, arch) + ["--checkpoint-minutes", "0"])
    log = tmp_path / "b" / "log.csv"
    deadline = time.monotonic() + 120
    while not (tmp_path / "b" / "checkpoint.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGTERM)
    killed.wait(timeout=120)
    _, info = load_weights(tmp_path / "b" / "checkpoint.safetensors")
    resumed = _run(_args(train_dir, tmp_path / "b", steps, arch))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    assert "resuming" in out
    a, _ = load_weights(tmp_path / "a" / "checkpoint.safetensors")
    b, _ = load_weights(tmp_path / "b" / "checkpoint.safetensors")
    model = [k for k in a if k.startswith("model.")]
    assert model and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in model)
    rows = list(csv.DictReader(open(log)))
    assert rows and rows[-1]["step"] == str(steps)


def test_torchrun_two_processes_then_resume(train_dir, tmp_path, torchrun):
    out = tmp_path / "ddp"
    r = torchrun(_args(train_dir, out, 3), 29600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(csv.DictReader(open(out / "log.csv")))[-1]["step"] == "3"
    r = torchrun(_args(train_dir, out, 5), 29600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming" in r.stdout and "step 5" in r.stdout


@pytest.mark.parametrize("arch,codec", [("wavelet", "wavelet-audio"), ("rvq", "rvq-audio")])
def test_exported_weights_load_as_the_codec(train_dir, tmp_path, arch, codec, capsys):
    from ncodec.cli.main import main

    run = tmp_path / "run"
    assert main(_args(train_dir, run, 2, arch)) == 0
    w = tmp_path / f"{codec}.safetensors"
    assert main(["train", "export", str(run), str(w), "--fp16"]) == 0
    assert f"{arch} at step 2" in capsys.readouterr().out
    from ncodec.codecs.registry import get

    c = get(codec, weights=w)
    from ncodec.weights import metadata

    assert metadata(w)["sha256"] == c.weights_hash()  # what `ncodec info` matches streams with, torch-free
    a = ncodec.Audio((0.1 * np.sin(np.arange(7000) / 7)).astype(np.float32)[None], RATE)
    b = c.decode(c.encode(a))
    assert b.samples.shape == a.samples.shape
    # a run's architecture is fixed: resuming it as the other one is refused
    other = "rvq" if arch == "wavelet" else "wavelet"
    assert main(_args(train_dir, run, 3, other)) == 1
    assert "arch" in capsys.readouterr().err


def test_a_stereo_music_model_trains_on_mid_and_side_and_codes_stereo(tmp_path, capsys):
    """``--channels mid-side --levels 5 --lambdas``: each stereo file gives its mid and side clips;
    the run resumes with its lambdas (a JSON list against the config's tuple); the export is a
    wavelet-music codec that codes stereo as mid/side."""
    from ncodec.cli.main import main
    from ncodec.codecs.audio.training_data import load_clips
    from ncodec.codecs.audio.wavelet_codec import WaveletMusicCodec

    d = tmp_path / "music"
    d.mkdir()
    rate = 44_100
    t = np.arange(rate) / rate
    left, right = 0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)
    write_audio(ncodec.Audio(np.stack([left, right]).astype(np.float32), rate), d / "syn_duo_0.wav")
    write_audio(ncodec.Audio(left[None].astype(np.float32), rate), d / "syn_solo_0.wav")
    near_mono = np.stack([left, left + 0.001 * right]).astype(np.float32)  # its side: -55 dB
    write_audio(ncodec.Audio(near_mono, rate), d / "syn_twin_0.wav")
    clips = load_clips(sorted(d.glob("*.wav")), rate, 1024, progress=False, channels="mid-side")
    assert len(clips) == 4  # duo: mid and side; solo; twin: mid only
    assert np.allclose(clips[0], (left + right) / 2, atol=1e-4) and np.allclose(clips[1], (left - right) / 2, atol=1e-4)
    run = tmp_path / "run"
    args = ["train", "audio", "--data", str(d), "--val-data", str(d), "--steps", "2", "--batch", "2",
            "--crop-seconds", "0.1", "--threads", "1", "--no-progress", "--out", str(run), "--C", "16", "--M", "8",
            "--N", "8", "--levels", "5", "--sample-rate", str(rate), "--channels", "mid-side",
            "--lambdas", "10,100,1000"]
    assert main(args) == 0
    assert main([*args[:7], "3", *args[8:]]) == 0  # resumes: same lambdas
    assert main([*args[:-1], "10,100"]) == 1 and "lambdas" in capsys.readouterr().err
    assert main([*args[:-1], "100,10"]) == 1 and "ascending" in capsys.readouterr().err
    w = tmp_path / "m.safetensors"
    assert main(["train", "export", str(run), str(w)]) == 0
    codec = WaveletMusicCodec(weights=w)
    assert codec.model.gain.lambdas == (10.0, 100.0, 1000.0) and codec.model.levels == 5
    a = ncodec.Audio(np.stack([left, right])[:, :20_000].astype(np.float32), rate)
    data = codec.encode(a)
    assert Container.from_bytes(data).params["channels"] == "mid-side"
    assert codec.decode(data).samples.shape == (2, 20_000)
