"""Image training: a few steps single-process and data-parallel under torchrun, with resume."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image as PILImage

from ncodec.checkpoint import load_weights


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    for i in range(4):
        y, x = np.mgrid[0:96, 0:120]
        px = 120 + 60 * np.sin(x / (5 + i))[..., None] + rng.normal(0, 10, (96, 120, 3))
        PILImage.fromarray(np.clip(px, 0, 255).astype(np.uint8)).save(d / f"t{i}.png")
    return d


def _args(data, out, steps):
    return ["train", "image", "--arch", "mean-scale-hyperprior", "--data", str(data), "--steps", str(steps),
            "--batch", "2", "--crop", "64", "--N", "16", "--M", "24", "--threads", "1", "--no-progress",
            "--out", str(out)]


def test_refuses_kodak(tmp_path, capsys):
    from ncodec.cli.main import main

    kodak = tmp_path / "kodak"
    kodak.mkdir()
    assert main(_args(kodak, tmp_path / "run", 1)) == 1
    assert "Kodak is the test set" in capsys.readouterr().err


def test_quality_sampling_leans_to_high_rates_and_refuses_a_bad_power(train_dir, tmp_path, capsys):
    import torch

    from ncodec.cli.main import main
    from ncodec.codecs.training import sample_qualities

    torch.manual_seed(0)
    uniform, high = sample_qualities(20_000, 1.0), sample_qualities(20_000, 0.5)
    assert 0.0 <= float(high.min()) and float(high.max()) <= 1.0
    assert abs(float(uniform.mean()) - 0.5) < 0.01
    assert abs(float(high.mean()) - 2 / 3) < 0.01  # E[u^p] = 1 / (1 + p)
    assert abs(float((high > 0.5).float().mean()) - 0.75) < 0.01  # P(u^0.5 > 0.5) = 1 - 0.25
    assert main(_args(train_dir, tmp_path / "run", 1) + ["--q-power", "0"]) == 1
    assert "q power must be positive" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_torchrun_two_processes_then_resume(train_dir, tmp_path, torchrun):
    out = tmp_path / "ddp"
    r = torchrun(_args(train_dir, out, 3), 29500)
    assert r.returncode == 0, r.stderr[-2000:]
    tensors, _ = load_weights(out / "checkpoint.safetensors")
    assert any(k.startswith("model.g_a") for k in tensors)
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert rows[-1]["step"] == "3"
    r = torchrun(_args(train_dir, out, 5), 29500)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming" in r.stdout and "step 5" in r.stdout


def test_resume_is_exact(train_dir, tmp_path):
    """3 steps + resume to 6 ends with the same weights as 6 steps straight."""
    import torch

    from ncodec.codecs.image.training import TrainConfig, train

    def cfg(steps):
        return TrainConfig(arch="mean-scale-hyperprior", data=[str(train_dir)], steps=steps, batch=2, crop=64,
                           N=16, M=24, threads=1, decay_at=1.0, log_every=2)
    straight = train(cfg(6), tmp_path / "a", progress=False)["model"].state_dict()
    train(cfg(3), tmp_path / "b", progress=False)
    resumed = train(cfg(6), tmp_path / "b", progress=False)["model"].state_dict()
    for k, v in straight.items():
        assert torch.equal(v, resumed[k]), k


def test_snapshots_and_export_load_as_codec_weights(train_dir, tmp_path, capsys):
    from ncodec.cli.main import main
    from ncodec.codecs.image.codec import MeanScaleCodec
    from ncodec.datasets.samples import load_sample

    out = tmp_path / "run"
    assert main(_args(train_dir, out, 2) + ["--snapshot-every", "1"]) == 0
    snaps = sorted((out / "snapshots").glob("*.safetensors"))
    assert [p.name for p in snaps] == ["step-0000001.safetensors", "step-0000002.safetensors"]
    tensors, meta = load_weights(snaps[-1])
    assert meta["provenance"]["step"] == 2 and meta["config"]["arch"] == "mean-scale-hyperprior"
    assert main(["train", "export", str(out), str(tmp_path / "w.safetensors"), "--fp16"]) == 0
    assert "step 2" in capsys.readouterr().out
    img = load_sample("image")
    for w in (snaps[-1], tmp_path / "w.safetensors"):  # both are usable weights files
        codec = MeanScaleCodec(weights=w)
        assert codec.decode(codec.encode(img, 0.5)).pixels.shape == img.pixels.shape


def test_fine_tune_from_a_base_with_frozen_transforms_and_ship_only_the_difference(train_dir, tmp_path, capsys):
    """A factorized model started from a trained mean-scale run with g_a/g_s/gain frozen: the frozen
    tensors stay bit-identical, the export leaves them to the base file, and the pair loads as one."""
    import torch

    from ncodec.cli.main import main
    from ncodec.codecs.image.codec import FactorizedCodec
    from ncodec.datasets.samples import load_sample
    from ncodec.errors import NcodecError

    ship = tmp_path / "weights"
    ship.mkdir()
    assert main(_args(train_dir, tmp_path / "base_run", 2)) == 0
    assert main(["train", "export", str(tmp_path / "base_run"), str(ship / "base.safetensors"), "--fp16"]) == 0
    base, _ = load_weights(ship / "base.safetensors")
    args = _args(train_dir, tmp_path / "ft", 2)
    args[args.index("mean-scale-hyperprior")] = "factorized"
    assert main(args + ["--init", str(ship / "base.safetensors"), "--freeze", "g_a,g_s,gain"]) == 0
    assert "initialised" in capsys.readouterr().out
    ft, _ = load_weights(tmp_path / "ft" / "checkpoint.safetensors")
    assert all(torch.equal(ft["model." + k], v) for k, v in base.items() if k.startswith(("g_a.", "g_s.", "gain.")))
    assert main(["train", "export", str(tmp_path / "ft"), str(ship / "f.safetensors"), "--fp16",
                 "--base", str(ship / "base.safetensors")]) == 0
    assert "tensors from base.safetensors" in capsys.readouterr().out
    full = tmp_path / "full.safetensors"
    assert main(["train", "export", str(tmp_path / "ft"), str(full), "--fp16"]) == 0
    assert (ship / "f.safetensors").stat().st_size < 0.2 * full.stat().st_size
    merged, meta = load_weights(ship / "f.safetensors")
    alone, _ = load_weights(full)
    assert merged.keys() == alone.keys() and all(torch.equal(merged[k], alone[k]) for k in alone)
    img = load_sample("image")
    a, b = FactorizedCodec(weights=ship / "f.safetensors"), FactorizedCodec(weights=full)
    assert a.weights_hash() == b.weights_hash()
    assert a.encode(img, 0.5) == b.encode(img, 0.5)

    # the base must be next to the file and unchanged
    moved = tmp_path / "f.safetensors"
    moved.write_bytes((ship / "f.safetensors").read_bytes())
    with pytest.raises(NcodecError, match="missing"):
        load_weights(moved)
    data = bytearray((ship / "base.safetensors").read_bytes())
    data[-1] ^= 1
    (ship / "base.safetensors").write_bytes(bytes(data))
    with pytest.raises(NcodecError, match="another version"):
        load_weights(ship / "f.safetensors")
    # resuming with another --freeze is refused
    assert main(args + ["--freeze", "g_a"]) == 1
    assert "freeze" in capsys.readouterr().err


def test_fp16_weights_leave_the_architecture_constants_alone(train_dir, tmp_path):
    """GDN's pedestal (1.5e-11) and the likelihood bound (1e-9) flush to zero in fp16; a zero bound
    made fine-tunes from fp16 weights diverge to NaN. Weights files leave such constants out."""
    import math

    import torch

    from ncodec.cli.main import main
    from ncodec.codecs.model_state import is_constant_buffer
    from ncodec.codecs.image.codec import load_model
    from ncodec.codecs.image.registry import build_model
    from ncodec.codecs.training import init_from

    assert main(_args(train_dir, tmp_path / "run", 2) + ["--snapshot-every", "2"]) == 0
    w = tmp_path / "w.safetensors"
    assert main(["train", "export", str(tmp_path / "run"), str(w), "--fp16"]) == 0
    fresh = build_model("mean-scale-hyperprior", N=16, M=24).state_dict()
    for f in (w, tmp_path / "run" / "snapshots" / "step-0000002.safetensors"):
        tensors, _ = load_weights(f)
        assert not [k for k in tensors if is_constant_buffer(k)]
        loaded = load_model("mean-scale-hyperprior", f).state_dict()
        consts = [k for k in fresh if is_constant_buffer(k) and fresh[k].numel()]
        assert any(k.endswith("likelihood_lower_bound.bound") for k in consts)
        assert any(k.endswith(".pedestal") for k in consts)
        assert all(torch.equal(loaded[k], fresh[k]) for k in consts)
    other = build_model("scale-hyperprior", N=16, M=24)
    init_from(other, w)
    assert float(other.z_prior.bottleneck.likelihood_lower_bound.bound) == pytest.approx(1e-9)
    args = _args(train_dir, tmp_path / "ft", 3)
    args[args.index("mean-scale-hyperprior")] = "scale-hyperprior"
    assert main(args + ["--init", str(w), "--freeze", "g_a,g_s,gain"]) == 0
    with open(tmp_path / "ft" / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(math.isfinite(float(r["loss"])) for r in rows)


def test_revive_dead_channels_makes_collapsed_channels_carry_symbols_again(train_dir, tmp_path, capsys):
    import torch

    from ncodec.cli.main import main
    from ncodec.codecs.image.registry import build_model
    from ncodec.codecs.image.revival import dead_channels, revive_dead_channels

    torch.manual_seed(0)
    model = build_model("checkerboard", N=16, M=24).eval()
    dead = [3, 10, 17]
    with torch.no_grad():
        model.gain.log_gain += 4.0  # an untrained g_a's outputs are tiny: make every channel carry symbols
        model.gain.log_gain[:, dead] -= 8.0  # collapse: these channels round to zero at every quality
    x = torch.rand(1, 3, 64, 64)
    q1 = torch.tensor([1.0])

    def live(m):
        with torch.no_grad():
            nz = (torch.round(m.g_a(x) * m.gain.gain(q1)) != 0).float().mean((0, 2, 3))
        return set(torch.nonzero(nz > 0.01).flatten().tolist())

    assert dead_channels(model) == dead and live(model) == set(range(24)) - set(dead)
    untouched = {k: v.clone() for k, v in model.state_dict().items()}
    assert revive_dead_channels(model) == dead
    assert live(model) == set(range(24)) and dead_channels(model) == []
    sd = model.state_dict()
    others = [c for c in range(24) if c not in dead]
    assert torch.equal(sd["gain.log_gain"][:, others], untouched["gain.log_gain"][:, others])
    assert torch.equal(sd["gain.log_gain"][:, dead[0]], untouched["gain.log_gain"][:, others].median(1).values)
    assert not sd["g_s.0.weight"][dead].any() and torch.equal(sd["g_s.0.weight"][others], untouched["g_s.0.weight"][others])
    assert revive_dead_channels(model) == []  # nothing left to revive

    with pytest.raises(Exception, match="checkerboard"):
        revive_dead_channels(build_model("mean-scale-hyperprior", N=16, M=24))
    # through the CLI: needs --init, and reports what it revived
    w = tmp_path / "collapsed.safetensors"
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in untouched.items()}, str(w))
    args = _args(train_dir, tmp_path / "rv", 1)
    args[args.index("mean-scale-hyperprior")] = "checkerboard"
    assert main(args + ["--revive-dead"]) == 1
    assert "--revive-dead needs --init" in capsys.readouterr().err
    assert main(args + ["--revive-dead", "--init", str(w)]) == 0
    assert "revived 3 dead latent channels: [3, 10, 17]" in capsys.readouterr().out


def test_downscale_shrinks_training_images_and_a_run_keeps_its_factor(train_dir, tmp_path, capsys):
    from ncodec.cli.main import main
    from ncodec.codecs.image.training_data import image_files, load_images
    from ncodec.errors import NcodecError

    files = image_files([train_dir])
    full = load_images(files, 16, progress=False)
    half = load_images(files, 16, progress=False, downscale=2)
    assert [im.shape for im in half] == [(48, 60, 3)] * 4
    # an antialiased shrink keeps each image's mean colour (a plain decimation of the noise would not be smooth)
    for a, b in zip(full, half):
        assert np.abs(a.mean((0, 1)) - b.mean((0, 1))).max() < 1.5
        assert b.astype(float).std() < a.astype(float).std()
    with pytest.raises(NcodecError, match="downscale must be >= 1"):
        load_images(files, 16, progress=False, downscale=0.5)
    run = tmp_path / "run"
    assert main(_args(train_dir, run, 1) + ["--downscale", "1.5"]) == 0
    capsys.readouterr()
    assert main(_args(train_dir, run, 2)) == 1
    assert "downscale=1.5" in capsys.readouterr().err


def test_crops_travel_as_uint8_and_convert_exactly():
    import torch

    from ncodec.codecs.image.training_data import CropSampler, to_float

    img = np.arange(40 * 50 * 3, dtype=np.int64).reshape(40, 50, 3).astype(np.uint8)
    a, b = CropSampler([img], 16, seed=3), CropSampler([img], 16, seed=3)
    crops = a.batch(5)
    assert crops.dtype == torch.uint8 and crops.shape == (5, 16, 16, 3)
    assert torch.equal(crops, b.batch(5))  # same seed, same crops
    x = to_float(crops)
    assert x.shape == (5, 3, 16, 16) and x.dtype == torch.float32
    expected = torch.from_numpy(crops.numpy().transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255))
    assert torch.equal(x, expected)
    levels = to_float(torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16, 1).expand(1, 16, 16, 3).contiguous())
    assert float(levels.min()) == 0.0 and float(levels.max()) == 1.0


def test_the_wavelet_image_model_trains_resumes_and_exports(train_dir, tmp_path, capsys):
    """``--arch wavelet``: its own defaults (M = 12: 16x fewer values than pixels), resume with
    its fixed width and levels, and an export that codes as wavelet-image."""
    from ncodec.cli.main import main
    from ncodec.codecs.image.codec import WaveletImageCodec
    from ncodec.datasets.samples import load_sample

    out = tmp_path / "run"
    args = ["train", "image", "--arch", "wavelet", "--data", str(train_dir), "--steps", "2", "--batch", "2",
            "--crop", "64", "--C", "16", "--threads", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    assert main([*args[:7], "3", *args[8:]]) == 0
    assert main([*args[:-2], "--levels", "3", "--out", str(out)]) == 1 and "levels" in capsys.readouterr().err
    w = tmp_path / "w.safetensors"
    assert main(["train", "export", str(out), str(w)]) == 0
    codec = WaveletImageCodec(weights=w)
    assert (codec.model.M, codec.model.N, codec.model.C, codec.model.levels) == (12, 32, 16, 2)
    img = load_sample("image")
    lat = codec.analyse(img, 0.5)
    h, w_ = img.pixels.shape[:2]
    assert lat.tensors["y"].shape == (1, 12, -(-h // 32) * 4, -(-w_ // 32) * 4)  # 1/8 of the padded size
    assert codec.decode(codec.encode(img, 0.5)).pixels.shape == img.pixels.shape
