"""NeRV-family video codecs: fitting, weight coding, the stream, resume, determinism, errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ncodec.codecs import get
from ncodec.container import Container
from ncodec.entropy import Decoder, Encoder, ZeroInflatedPrior
from ncodec.errors import CorruptStreamError, NcodecError
from ncodec.eval.metrics import video_psnr
from ncodec.codecs.video import bitstream as wc
from ncodec.codecs.video.config import INRConfig, configure
from ncodec.codecs.video.fitting import FitOptions, decoder_module, fit
from ncodec.codecs.video.rendering import build_decoder
from ncodec.media import Video


def tiny_video(t: int = 6, h: int = 23, w: int = 37) -> Video:
    """A moving colour gradient with odd sizes (chroma rounding, cropping)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(t):
        r = 128 + 100 * np.sin((x + 3 * i) / 6.0)
        g = 128 + 90 * np.cos((y - 2 * i) / 5.0)
        b = 128 + 60 * np.sin((x + y + i) / 8.0)
        frames.append(np.stack([r, g, b], -1))
    return Video.from_rgb(np.clip(np.stack(frames), 0, 255).astype(np.uint8), 25)


def md5_planes(v: Video) -> str:
    return hashlib.md5(b"".join(p.tobytes() for p in v.to_yuv420().planes)).hexdigest()


# ---------------------------------------------------------------------- configuration
@pytest.mark.parametrize("arch", ["nerv", "hnerv"])
@pytest.mark.parametrize("block", ["nerv", "enhanced"])
def test_config_covers_the_frame_and_counts_parameters_exactly(arch, block):
    for t, h, w, bpp in [(6, 23, 37, 0.5), (64, 180, 320, 0.05), (300, 360, 640, 0.1)]:
        cfg = configure(arch, t, h, w, bpp * t * h * w, block=block)
        ph, pw = cfg.padded
        assert ph >= h and pw >= w
        assert cfg.param_count() == sum(p.numel() for p in build_decoder(cfg).parameters())
        assert INRConfig.from_dict(cfg.to_dict()) == cfg
    small = configure(arch, 64, 180, 320, 0.05 * 64 * 180 * 320)
    big = configure(arch, 64, 180, 320, 0.3 * 64 * 180 * 320)
    assert big.param_count() > 2 * small.param_count()  # the budget sizes the model


def test_hostile_configs_are_refused_before_allocation():
    good = configure("hnerv", 6, 23, 37, 20000).to_dict()
    for key, value in [("channels", [100000] * len(good["channels"])), ("strides", [9] * len(good["strides"])),
                       ("grid", [5000, 5000]), ("arch", "transformer"), ("frames", 0), ("kernels", [4] * len(good["kernels"])),
                       ("channels", [2048] * len(good["channels"])), ("weight_quant", "vector")]:
        bad = dict(good, **{key: value})
        with pytest.raises(CorruptStreamError):
            INRConfig.from_dict(bad)
    with pytest.raises(CorruptStreamError):
        INRConfig.from_dict("nonsense")
    legacy = {k: v for k, v in good.items() if k != "weight_quant"}  # streams before per-channel steps
    assert good["weight_quant"] == "channel" and INRConfig.from_dict(legacy).weight_quant == "tensor"


# ---------------------------------------------------------------------- entropy coding of weights
def test_zero_inflated_prior_round_trip_and_rate():
    rng = np.random.default_rng(1)
    w = np.clip(np.round(rng.laplace(0, 5, 50000)), -127, 127).astype(np.int64)
    w[rng.random(w.size) < 0.4] = 0
    groups = [w, np.array([0, 0, 0]), np.array([127, -127, 300, -5000])]  # escapes too
    prior = ZeroInflatedPrior(127)
    params = [prior.fit(g) for g in groups]
    enc = Encoder()
    prior.encode(enc, groups, params)
    data = enc.finish()
    out = prior.decode(Decoder(data), params, shape=[g.size for g in groups])
    assert all(np.array_equal(a, b) for a, b in zip(out, groups))
    _, counts = np.unique(w, return_counts=True)
    p = counts / counts.sum()
    empirical = -(p * np.log2(p)).sum() * w.size
    assert 8 * len(data) <= 1.01 * empirical + 8 * 64 + prior.bits(groups[1:], params[1:])


def quantized(tensors, bits, per_channel=False):
    """What the decoder gets for ``tensors``: their integers times their steps, without entropy coding."""
    groups, codes, extra = wc.tensor_integers(tensors, bits, per_channel)
    ints = {n: g.reshape(tuple(tensors[n].shape)) for n, g in zip(sorted(tensors), groups)}
    return wc.dequantize_weights(ints, codes, extra, per_channel)


def test_weight_chunk_round_trip_is_exact_and_refuses_damage():
    torch.manual_seed(0)
    tensors = {"a.weight": torch.randn(8, 4, 3, 3) * 0.1, "a.bias": torch.randn(8) * 0.01, "z": torch.zeros(5),
               "tiny": torch.full((3,), 1e-30), "small": torch.randn(4) * 1e-20, "big": torch.randn(4) * 1e6}
    data = wc.encode_tensors(tensors, 8)
    out = wc.decode_tensors(data, {k: tuple(v.shape) for k, v in tensors.items()}, 8)
    ref = quantized(tensors, 8)
    assert all(torch.equal(out[k], ref[k]) for k in tensors)
    assert all((ref[k] - tensors[k]).abs().max() <= wc.step_for(tensors[k], 8) / 2 + 1e-9 * tensors[k].abs().max()
               for k in tensors if k != "tiny")
    assert torch.equal(out["tiny"], torch.zeros(3))  # negligible tensors quantize to zero
    with pytest.raises(CorruptStreamError):
        wc.decode_tensors(data, {"a.weight": (8, 4, 3, 3)}, 8)  # wrong number of tensors
    with pytest.raises(CorruptStreamError):
        wc.decode_tensors(data[:6], {k: tuple(v.shape) for k, v in tensors.items()}, 8)


def test_per_channel_steps_are_exact_tighter_and_round_trip():
    assert wc._OCTAVE == tuple(round(65536 * 2 ** (-r / 16)) for r in range(16))
    torch.manual_seed(1)
    w = torch.randn(6, 4, 3, 3) * 0.05
    w[2, 0, 0, 0] = 1.0  # an outlier: per tensor it would coarsen every channel
    w[4] = 0.0  # a pruned-away channel
    tensors = {"c.weight": w, "c.bias": torch.randn(6) * 0.01, "lin.weight": torch.randn(5, 7)}
    code, js = wc.steps_of(w, 6, per_channel=True)
    steps = wc.channel_steps(code, js)
    k = wc.max_level(6)
    maxes = w.abs().flatten(1).max(1).values.double()
    assert torch.all(steps * k >= maxes) and torch.all(steps <= wc.step_value(*code))
    live = maxes > 0
    assert torch.all(steps[live] * k < maxes[live] * 2 ** (1 / 16) + 1e-12)  # the tightest code
    assert int(js[2]) == 0 and int(js[4]) == 255
    shapes = {n: tuple(t.shape) for n, t in tensors.items()}
    data = wc.encode_tensors(tensors, 6, per_channel=True)
    out = wc.decode_tensors(data, shapes, 6, per_channel=True)
    ref = quantized(tensors, 6, per_channel=True)
    assert all(torch.equal(out[n], ref[n]) for n in tensors)
    others = [0, 1, 3, 5]  # the channels without the outlier get a much finer grid
    err_channel = (ref["c.weight"] - w)[others].pow(2).mean()
    err_tensor = (quantized(tensors, 6)["c.weight"] - w)[others].pow(2).mean()
    assert err_channel < err_tensor / 20  # steps ~6.7x finer here
    bits = wc.estimate_bits(tensors, 6, per_channel=True)
    assert abs(8 * len(data) - bits) < 64 + 0.02 * bits
    with pytest.raises(CorruptStreamError):
        wc.decode_tensors(data[:30], shapes, 6, per_channel=True)


def test_adaptive_weight_prior_is_exact_smaller_and_checked():
    torch.manual_seed(3)
    # integers whose histogram is no Laplace (two modes at about +-2/3 of the range), 30 % pruned
    w = torch.sign(torch.randn(64, 32, 3, 3)) * (0.05 + 0.005 * torch.randn(64, 32, 3, 3))
    w[:, 0, 0, 0] = 0.075
    w[torch.rand(w.shape) < 0.3] = 0.0
    tensors = {"c.weight": w, "c.bias": torch.randn(64) * 0.01, "z.weight": torch.zeros(4, 4)}
    shapes = {n: tuple(t.shape) for n, t in tensors.items()}
    ref = quantized(tensors, 6, per_channel=True)
    sizes = {}
    for prior in wc.WEIGHT_PRIORS:
        data = wc.encode_tensors(tensors, 6, per_channel=True, prior=prior)
        out = wc.decode_tensors(data, shapes, 6, per_channel=True, prior=prior)
        assert all(torch.equal(out[n], ref[n]) for n in tensors)
        assert abs(8 * len(data) - wc.estimate_bits(tensors, 6, True, prior)) < 64 + 0.01 * 8 * len(data)
        other = "zero-inflated" if prior == "adaptive" else "adaptive"
        ints, codes, extra = wc.weights_from_chunk(data, shapes, 6, True, prior)
        recoded = wc.weights_to_chunk(ints, codes, extra, 6, other)
        assert recoded == wc.encode_tensors(tensors, 6, per_channel=True, prior=other)
        sizes[prior] = len(data)
        with pytest.raises(CorruptStreamError):
            wc.decode_tensors(data[:len(data) // 2], shapes, 6, per_channel=True, prior=prior)
    assert sizes["adaptive"] < 0.8 * sizes["zero-inflated"]
    with pytest.raises(ValueError):
        wc.encode_tensors(tensors, 6, prior="huffman")
    # a value the quantizer can never produce (|q| > K, escape coded) is refused
    data = wc._encode_groups([np.array([0, 40, 1])], [(1 << 15, -20)], wc.max_level(6), prior="adaptive")
    with pytest.raises(CorruptStreamError, match="out of range"):
        wc.decode_tensors(data, {"a": (3,)}, 6, prior="adaptive")


def drifting_embeddings(t: int = 40, d: int = 4, seed: int = 0) -> torch.Tensor:
    """``T x d x 3 x 5`` values that drift slowly from frame to frame, with a cut halfway, and one
    channel of white noise (no temporal structure)."""
    g = torch.Generator().manual_seed(seed)
    walk = torch.cumsum(0.05 * torch.randn(t, d, 3, 5, generator=g), 0) + torch.randn(1, d, 3, 5, generator=g)
    walk[t // 2:] += torch.randn(1, d, 3, 5, generator=g)  # a scene cut
    walk[:, -1] = torch.randn(t, 3, 5, generator=g)
    return walk


def test_temporal_embedding_coding_is_exact_smaller_and_checked():
    q, steps = wc.quantize_embeddings(drifting_embeddings(), 6)
    shape = q.shape
    direct = wc.encode_embeddings(q, steps, 6, "direct")
    temporal = wc.encode_embeddings(q, steps, 6, "temporal")
    ref = wc.dequantize_embeddings(q, steps)
    for coding, data in (("direct", direct), ("temporal", temporal)):
        assert torch.equal(wc.decode_embeddings(data, shape, 6, coding), ref)
        assert abs(8 * len(data) - wc.embedding_bits(q, 6, coding)) < 64 + 0.02 * 8 * len(data)
    assert len(temporal) < 0.75 * len(direct)
    # the drifting channels predict from the frame before, the noise channel does not
    coeffs = np.frombuffer(temporal[4 + 7 * shape[1]:4 + 8 * shape[1]], dtype=np.uint8)
    assert coeffs[:-1].min() >= 6 and coeffs[-1] <= 2
    for a in range(9):
        x = q[:, 0]
        assert np.array_equal(wc.temporal_reconstruct(wc.temporal_residuals(x, a)[:, None], np.array([a]))[:, 0], x)
    bad = bytearray(temporal)
    bad[4 + 7 * shape[1]] = 9  # a predictor coefficient beyond 8/8
    with pytest.raises(CorruptStreamError, match="coefficient"):
        wc.decode_embeddings(bytes(bad), shape, 6, "temporal")
    with pytest.raises(CorruptStreamError):
        wc.decode_embeddings(temporal[:40], shape, 6, "temporal")
    with pytest.raises(CorruptStreamError):
        wc.decode_embeddings(temporal, shape, 6, "spatial")
    with pytest.raises(ValueError):
        wc.encode_embeddings(q, steps, 6, "spatial")


def test_temporal_embeddings_buy_weights_and_old_configs_still_read():
    a = configure("hnerv", 300, 180, 320, 0.1 * 300 * 180 * 320, embed_coding="direct")
    b = configure("hnerv", 300, 180, 320, 0.1 * 300 * 180 * 320)
    assert b.embed_coding == "temporal" and a.embed_dim == b.embed_dim
    assert b.param_count() > a.param_count()  # the bits prediction saves go to the weights
    assert "embed_coding" not in a.to_dict()  # streams from before the option read the same
    assert INRConfig.from_dict(a.to_dict()) == a and INRConfig.from_dict(b.to_dict()) == b
    with pytest.raises(CorruptStreamError):
        INRConfig.from_dict({**b.to_dict(), "embed_coding": "spatial"})
    assert configure("nerv", 16, 64, 96, 1e5).embed_coding == "direct"
    c = configure("hnerv", 300, 180, 320, 0.1 * 300 * 180 * 320, weight_prior="zero-inflated")
    assert c.param_count() < b.param_count() and "weight_prior" not in c.to_dict()  # the saving buys weights too
    with pytest.raises(CorruptStreamError):
        INRConfig.from_dict({**b.to_dict(), "weight_prior": "huffman"})


# ---------------------------------------------------------------------- the codec
@pytest.fixture(scope="module")
def coded():
    v = tiny_video()
    codec = get("hnerv", epochs="25")
    data = codec.encode(v, 0.5)
    return v, codec, data


def test_round_trip_psnr_matches_the_encoder_and_decode_is_repeatable(coded):
    v, codec, data = coded
    c = Container.from_bytes(data)
    out = codec.decode(data)
    assert (out.num_frames, out.height, out.width) == (v.num_frames, v.height, v.width)
    assert out.fps == v.fps
    psnr = video_psnr(v, out)["y_psnr"]
    assert abs(psnr - c.params["fit"]["y_psnr"]) < 1e-3
    assert psnr > 18  # it learned something in 150 steps (random output is ~8 dB)
    assert md5_planes(codec.decode(data)) == md5_planes(out)
    assert set(c.chunks) == {"weights", "embeddings"}
    assert c.params["config"]["embed_coding"] == "temporal" and c.params["config"]["weight_prior"] == "adaptive"


def test_nerv_round_trip_and_enhanced_blocks():
    v = tiny_video(t=4)
    for spec in (("nerv", {}), ("hnerv", {"block": "enhanced"}), ("hnerv", {"weight_bits": "5", "embed_bits": "4"}),
                 ("hnerv", {"weight_quant": "tensor"}),  # one step per tensor: streams made before per channel
                 ("hnerv", {"embed_coding": "direct", "weight_prior": "zero-inflated"})):  # as streams before both
        codec = get(spec[0], epochs="5", **spec[1])
        data = codec.encode(v, 1.0)
        c = Container.from_bytes(data)
        assert c.params["config"]["block"] == spec[1].get("block", "nerv")
        assert c.params["config"]["weight_bits"] == int(spec[1].get("weight_bits", 6))
        assert c.params["config"]["embed_bits"] == int(spec[1].get("embed_bits", 6))
        assert c.params["config"]["weight_quant"] == spec[1].get("weight_quant", "channel")
        assert c.params["config"].get("embed_coding", "direct") == spec[1].get(
            "embed_coding", "temporal" if spec[0] == "hnerv" else "direct")
        assert c.params["config"].get("weight_prior", "zero-inflated") == spec[1].get("weight_prior", "adaptive")
        assert abs(video_psnr(v, codec.decode(data))["y_psnr"] - c.params["fit"]["y_psnr"]) < 1e-3


def test_coded_weights_are_much_smaller_than_raw_8_bit(tmp_path, capsys):
    """A fitted toy model (default 6-bit weights, a step per output channel): the entropy-coded
    weights beat the same integers stored as 8-bit values by >= 25 %, and packed at 6 bits too."""
    from ncodec.cli.main import main
    from ncodec.datasets.samples import load_sample

    v = load_sample("video")
    v = Video(tuple(p[:8] for p in v.to_yuv420().planes), v.fps, "yuv420p", v.color_space)
    data = get("hnerv", epochs="60", prune="0.4").encode(v, 0.3)
    c = Container.from_bytes(data)
    coded, n = len(c.chunks["weights"]), c.params["weights_count"]
    assert c.params["config"]["weight_bits"] == 6 and c.params["config"]["weight_quant"] == "channel"
    assert coded <= 0.75 * n
    assert c.params["weights_raw_bytes"] == (6 * n + 7) // 8
    assert coded < 0.9 * c.params["weights_raw_bytes"]
    (tmp_path / "v.ncd").write_bytes(data)
    assert main(["info", str(tmp_path / "v.ncd")]) in (0, None)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("chunk weights"))
    assert f"as 8-bit values: {n:,} bytes, saves {100 * (1 - coded / n):.1f} %" in line


def test_corrupted_streams_fail_clearly(coded):
    v, codec, data = coded
    c = Container.from_bytes(data)
    w = bytearray(c.chunks["weights"])
    w[40] ^= 0xFF
    bad = Container(codec=c.codec, codec_version=c.codec_version, media=c.media,
                    chunks={**c.chunks, "weights": bytes(w[:60])}, params=c.params, weights=None, quality=c.quality)
    with pytest.raises(CorruptStreamError):
        codec.decode(bad.to_bytes())
    cfg = dict(c.params["config"], channels=[4096] * len(c.params["config"]["channels"]))
    bad = Container(codec=c.codec, codec_version=c.codec_version, media=c.media, chunks=c.chunks,
                    params={**c.params, "config": cfg}, weights=None, quality=c.quality)
    with pytest.raises(CorruptStreamError):
        codec.decode(bad.to_bytes())
    flipped = bytearray(data)
    flipped[-10] ^= 0x55
    with pytest.raises(NcodecError):
        codec.decode(bytes(flipped))


_PROG = textwrap.dedent("""
    import sys, hashlib, torch
    torch.set_num_threads(int(sys.argv[1]))
    from ncodec.codecs import get
    out = get("hnerv").decode(sys.stdin.buffer.read())
    print(hashlib.md5(b"".join(p.tobytes() for p in out.planes)).hexdigest())
""")


def test_decode_is_bit_exact_across_thread_counts(coded, tmp_path):
    _, _, data = coded
    prog = tmp_path / "p.py"
    prog.write_text(_PROG)
    runs = {subprocess.run([sys.executable, str(prog), str(n)], input=data, capture_output=True,
                           check=True).stdout for n in (1, 2, 3)}
    assert len(runs) == 1


def test_interrupted_fit_resumes_to_the_same_result(tmp_path):
    v = tiny_video(t=4).to_yuv420()
    cfg = configure("hnerv", 4, v.height, v.width, 0.5 * 4 * v.height * v.width)
    opts = FitOptions(epochs=12, checkpoint_seconds=1e9)  # qat starts at step 40 of 48
    full = fit(v.planes, cfg, opts, progress=False)

    def stop(step):
        if step == 43:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(v.planes, cfg, opts, workdir=tmp_path, progress=False, on_step=stop)
    resumed = fit(v.planes, cfg, opts, workdir=tmp_path, progress=False)
    assert resumed.resumed_from == 43
    assert all(torch.equal(full.decoder_state[k], resumed.decoder_state[k]) for k in full.decoder_state)
    assert np.array_equal(full.embeddings[0], resumed.embeddings[0])
    clipped = fit(v.planes, cfg, FitOptions(epochs=12, checkpoint_seconds=1e9, grad_clip=0.5), progress=False)
    assert not all(torch.equal(full.decoder_state[k], clipped.decoder_state[k]) for k in full.decoder_state)
    copts = FitOptions(epochs=12, checkpoint_seconds=1e9, grad_clip=0.5)  # its running norm resumes too
    with pytest.raises(KeyboardInterrupt):
        fit(v.planes, cfg, copts, workdir=tmp_path / "clip", progress=False, on_step=stop)
    again = fit(v.planes, cfg, copts, workdir=tmp_path / "clip", progress=False)
    assert again.resumed_from == 43
    assert all(torch.equal(clipped.decoder_state[k], again.decoder_state[k]) for k in full.decoder_state)
    nopts = FitOptions(epochs=12, checkpoint_seconds=1e9, quant_noise=1.0)  # noisy weights: another fit, exact resume
    noisy = fit(v.planes, cfg, nopts, progress=False)
    assert not all(torch.equal(full.decoder_state[k], noisy.decoder_state[k]) for k in full.decoder_state)
    with pytest.raises(KeyboardInterrupt):
        fit(v.planes, cfg, nopts, workdir=tmp_path / "noise", progress=False, on_step=stop)
    again = fit(v.planes, cfg, nopts, workdir=tmp_path / "noise", progress=False)
    assert all(torch.equal(noisy.decoder_state[k], again.decoder_state[k]) for k in full.decoder_state)
    other = FitOptions(epochs=12, checkpoint_seconds=1e9, lr=1e-3)  # another job: the checkpoint is ignored
    assert fit(v.planes, cfg, other, workdir=tmp_path, progress=False).resumed_from == 0
    assert isinstance(decoder_module(full.model), torch.nn.Module)


def test_gradient_clipping_is_relative_to_the_running_norm():
    from ncodec.codecs.video.fitting import _clip_gradients

    layer = torch.nn.Linear(3, 1, bias=False)
    layer.weight.grad = torch.tensor([[3.0, 0.0, 4.0]])  # norm 5
    assert _clip_gradients(layer, None, 2.0) == 5.0  # the first step only measures
    assert torch.equal(layer.weight.grad, torch.tensor([[3.0, 0.0, 4.0]]))
    mean = _clip_gradients(layer, 1.0, 2.0)  # 5 > 2 x 1: scaled to norm 2
    assert float(layer.weight.grad.norm()) == pytest.approx(2.0, rel=1e-5)
    assert mean == pytest.approx(0.99 + 0.02)
    layer.weight.grad = torch.tensor([[0.3, 0.0, 0.4]])
    assert _clip_gradients(layer, 1.0, 2.0) == pytest.approx(0.99 + 0.005)  # below: untouched
    assert torch.equal(layer.weight.grad, torch.tensor([[0.3, 0.0, 0.4]]))
    layer.weight.grad = torch.tensor([[30.0, 0.0, 40.0]])
    assert _clip_gradients(layer, 1.0, 0.0) == pytest.approx(0.99 + 0.5)  # c = 0: measured, not clipped
    assert torch.equal(layer.weight.grad, torch.tensor([[30.0, 0.0, 40.0]]))


def test_still_baseline_is_the_better_trivial_predictor():
    from ncodec.codecs.video.fitting import LUMA_WEIGHT, still_baseline_db

    rng = np.random.default_rng(0)
    y = rng.integers(0, 256, (4, 6, 8)).astype(np.uint8)
    u, v = np.full((4, 3, 4), 100, np.uint8), np.full((4, 3, 4), 50, np.uint8)
    idx = torch.arange(4)
    yf = y.astype(np.float64) / 255
    still = LUMA_WEIGHT * ((yf - yf.mean(0)) ** 2).mean()
    flat = LUMA_WEIGHT * ((yf - yf.mean((1, 2), keepdims=True)) ** 2).mean()
    assert still_baseline_db((y, u, v), idx) == pytest.approx(-10 * np.log10(min(still, flat)))
    same = np.repeat(y[:1], 4, 0)  # a still video: the mean frame predicts it exactly
    assert still_baseline_db((same, u, v), idx) > 100


def test_collapse_guard_restarts_with_the_next_seed_and_resumes(tmp_path):
    v = tiny_video(t=4).to_yuv420()
    cfg = configure("hnerv", 4, v.height, v.width, 0.5 * 4 * v.height * v.width)
    base = dict(epochs=12, checkpoint_seconds=1e9)
    never = fit(v.planes, cfg, FitOptions(**base, collapse_db=-1e3), progress=False)  # no fit looks collapsed
    plain = fit(v.planes, cfg, FitOptions(**base, reseeds=0), progress=False)
    assert never.seed == 0 and all(torch.equal(never.decoder_state[k], plain.decoder_state[k]) for k in plain.decoder_state)
    always = FitOptions(**base, collapse_db=1e3, reseeds=1)  # every fit looks collapsed: one restart, then kept
    forced = fit(v.planes, cfg, always, progress=False)
    seed1 = fit(v.planes, cfg, FitOptions(**base, seed=1, reseeds=0), progress=False)
    assert forced.seed == 1
    assert all(torch.equal(forced.decoder_state[k], seed1.decoder_state[k]) for k in seed1.decoder_state)
    assert not all(torch.equal(forced.decoder_state[k], plain.decoder_state[k]) for k in plain.decoder_state)

    calls = []

    def stop(step):  # the check is at step 4; the 10th call is step 6 of the second attempt
        calls.append(step)
        if len(calls) == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(v.planes, cfg, always, workdir=tmp_path, progress=False, on_step=stop)
    assert calls[:5] == [1, 2, 3, 4, 1]
    resumed = fit(v.planes, cfg, always, workdir=tmp_path, progress=False)
    assert (resumed.seed, resumed.resumed_from) == (1, 6)
    trace = (tmp_path / "trace.csv").read_text().splitlines()
    assert trace[0].startswith("attempt,step") and sum(",check," in t for t in trace) == 1  # attempt 1 kept
    assert trace[-1].startswith("1,48,")
    assert all(torch.equal(forced.decoder_state[k], resumed.decoder_state[k]) for k in forced.decoder_state)


def test_cli_encode_size_kb_info_and_decode(tmp_path, capsys):
    from ncodec.cli.main import main
    from ncodec.media_io import write_video

    src = tmp_path / "in.y4m"
    write_video(tiny_video(), src)
    out = tmp_path / "v.ncd"
    assert main(["encode", "-c", "hnerv:epochs=3", "--size-kb", "3", str(src), str(out)]) == 0
    assert out.exists() and not (tmp_path / "v.ncd.fit").exists()
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "stored plainly" in info and "param config" in info
    assert main(["decode", str(out), str(tmp_path / "r.y4m")]) == 0
    assert "frames/s" in capsys.readouterr().out
    assert main(["encode", "-c", "jpeg", "--size-kb", "3", str(src), str(tmp_path / "x.ncd")]) != 0


def test_two_encodes_cannot_share_a_fit_directory(tmp_path):
    from ncodec.codecs.video.fitting import _workdir_lock

    v = tiny_video(t=2).to_yuv420()
    cfg = configure("nerv", 2, v.height, v.width, 20000)
    with _workdir_lock(tmp_path):
        with pytest.raises(NcodecError, match="another encode"):
            fit(v.planes, cfg, FitOptions(epochs=1), workdir=tmp_path, progress=False)
    assert fit(v.planes, cfg, FitOptions(epochs=1), workdir=tmp_path, progress=False).steps == 2


def test_bench_resumes_a_half_done_fit(tmp_path, monkeypatch):
    """A sweep killed inside a NeRV fit restarts that fit from its checkpoint in DIR/fits/."""
    import ncodec.codecs.video.fitting as fitting
    from ncodec.datasets.collection import LoadOptions
    from ncodec.media_io import write_video
    from ncodec.eval.sweep import CodecSpec, Job, run_job

    src = tmp_path / "clip.y4m"
    write_video(tiny_video(t=4), src)
    job = Job(str(src), "clip", "video", CodecSpec.parse("hnerv:epochs=20"), (1.0,), ("psnr",), LoadOptions(),
              fit_root=str(tmp_path / "fits"))
    real_fit, seen = fitting.fit, []

    def interrupted(*a, **kw):
        def stop(step):
            if step == 30:
                raise KeyboardInterrupt
        return real_fit(*a, on_step=stop, **kw)

    def spy(*a, **kw):
        seen.append(kw["workdir"])
        res = real_fit(*a, **kw)
        seen.append(res.resumed_from)
        return res

    monkeypatch.setattr(fitting, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_job(job)
    fit_dirs = list((tmp_path / "fits").iterdir())
    assert len(fit_dirs) == 1 and any(fit_dirs[0].iterdir())
    monkeypatch.setattr(fitting, "fit", spy)
    records = run_job(job)
    assert "error" not in records[0] and records[0]["psnr"] > 10
    assert seen == [fit_dirs[0], 30]
    assert fit_dirs[0].exists()  # kept until the sweep has written the record (run_sweep's sink)
    # In a sweep, the directory goes once the record is written; a finished fit is not redone.
    from ncodec.datasets.collection import list_media
    from ncodec.eval.sweep import SweepPlan, fit_dir, run_sweep

    dataset = list_media([src], "video")
    target = fit_dir(tmp_path / "sweep" / "fits", dataset.item_id(src), "hnerv:epochs=20", 1.0)
    target.parent.mkdir(parents=True)
    fit_dirs[0].rename(target)
    seen.clear()
    plan = SweepPlan(dataset, [job.codec], {"hnerv:epochs=20": [1.0]}, ["psnr"], LoadOptions())
    recs = run_sweep(plan, tmp_path / "sweep", progress=False)
    assert len(recs) == 1 and "error" not in recs[0]
    assert seen == [target, 80] and not target.exists()  # resumed at its last step (4 frames x 20)
    kept = (tmp_path / "sweep" / "traces" / f"{target.name}.csv").read_text().splitlines()
    assert kept[0].startswith("attempt,step") and kept[-1].split(",")[:2] == [kept[-1][0], "80"]


def test_schedule_options_reach_the_fit_and_are_checked():
    codec = get("hnerv", prune_at="0.6", qat_at="0.7")
    assert (codec.fit_options.prune_at, codec.fit_options.qat_at) == (0.6, 0.7)
    with pytest.raises(Exception, match="prune_at <= qat_at"):
        get("hnerv", prune_at="0.9", qat_at="0.7")


def test_recorded_y_psnr_is_the_harness_y_psnr():
    from ncodec.codecs.video.codec import _y_psnr

    a, b = tiny_video(), tiny_video(t=6)
    noisy = Video.from_yuv420(*(np.clip(p.astype(int) + (i % 3) - 1, 0, 255).astype(np.uint8)
                                for i, p in enumerate(b.to_yuv420().planes)), 25)
    assert _y_psnr(a.to_yuv420(), noisy) == pytest.approx(video_psnr(a, noisy)["y_psnr"], abs=1e-12)
    assert _y_psnr(a.to_yuv420(), a.to_yuv420()) == video_psnr(a, a)["y_psnr"]
