"""Quality metrics: images, audio (with delay compensation), LPIPS availability."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ncodec.eval import audio_quality as aq
from ncodec.eval import image_quality as iq
from ncodec.media import Audio, Image


def _speechlike(n=32000, sr=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    env = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))
    x = env * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)) + 0.05 * rng.standard_normal(n)
    return (0.3 * x).astype(np.float32)


@pytest.mark.parametrize("delay", [0, 37, 312, -55])
def test_alignment_recovers_a_known_delay(delay):
    x = _speechlike()
    y = np.roll(x, delay) if delay >= 0 else np.concatenate([x[-delay:], np.zeros(-delay, np.float32)])
    if delay > 0:
        y[:delay] = 0
    r, d, found = aq.align(x, y, 16000)
    assert found == delay
    assert aq.snr(r, d) > 60


def test_identical_audio_is_exact_and_lossy_is_finite():
    x = _speechlike()
    a = Audio(x[None], 16000)
    m = aq.audio_metrics(a, a)
    assert m["snr"] == math.inf and m["si_sdr"] == math.inf and m["mel_distance"] == 0 and m["stoi"] > 0.999
    noisy = Audio((x + 0.01 * np.random.default_rng(1).standard_normal(x.size)).astype(np.float32)[None], 16000)
    m = aq.audio_metrics(a, noisy)
    assert all(math.isfinite(v) for v in m.values())
    assert 5 < m["si_sdr"] < 40 and m["mel_distance"] > 0 and 0 < m["stoi"] <= 1


def test_si_sdr_ignores_gain():
    x = _speechlike().astype(np.float64)
    y = x + 0.01 * np.random.default_rng(2).standard_normal(x.size)
    assert aq.si_sdr(x, 0.5 * y) == pytest.approx(aq.si_sdr(x, y), abs=1e-9)
    assert aq.snr(x, 0.5 * y) < aq.snr(x, y)


def test_image_psnr_variants_and_ms_ssim():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    assert iq.psnr_rgb(a, a) == math.inf
    p = iq.psnr_rgb(Image(a), Image(b))
    assert 35 < p < 45
    assert iq.psnr_y(a, b, "bt601") != iq.psnr_y(a, b, "bt709")
    assert iq.ms_ssim(a, a) == pytest.approx(1.0)
    assert 0.9 < iq.ms_ssim(a, b) < 1.0
    with pytest.raises(ValueError, match="at least 161"):
        iq.ms_ssim(a[:100], b[:100])


def test_lpips_without_local_backbone_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(iq.LpipsUnavailable, match="alexnet-owt-7be5be79.pth"):
        iq.LpipsMetric()


def test_lpips_with_a_local_backbone(tmp_path, monkeypatch):
    """With (here: stand-in) local AlexNet weights, LPIPS loads them and is 0 for identical images."""
    import torch
    import torchvision

    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), ckpt / iq.ALEXNET_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    metric = iq.LpipsMetric()
    a = np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert metric(a, a) == pytest.approx(0.0, abs=1e-6)
    assert metric(a, 255 - a) > 0


def test_flac_is_exact_and_lossy_codecs_are_finite_in_the_harness():
    """The harness's own measurement path: FLAC gives infinite SNR/SI-SDR and zero mel
    distance, every lossy audio codec finite values."""
    from ncodec.codecs import get
    from ncodec.datasets.samples import load_sample
    from ncodec.eval.measure import measure

    audio = load_sample("audio")
    pcm16 = Audio((np.clip(np.round(audio.samples * 32768), -32768, 32767) / 32768).astype(np.float32), audio.sample_rate)
    flac = get("flac")
    data = flac.encode(pcm16)
    m = measure(pcm16, flac.decode(data), len(data), ["snr", "si-sdr", "mel", "stoi"])
    assert m["snr"] == math.inf and m["si-sdr"] == math.inf and m["mel"] == 0.0 and m["delay_samples"] == 0
    for name, q in (("opus", 16), ("aac", 32), ("mp3", 32)):
        codec = get(name)
        data = codec.encode(audio, q)
        m = measure(audio, codec.decode(data), len(data), ["snr", "si-sdr", "mel", "stoi"])
        assert all(math.isfinite(m[k]) for k in ("snr", "si-sdr", "mel", "stoi")), (name, m)
        assert m["si-sdr"] > 0 and m["mel"] > 0


def test_video_psnr_caps_exact_frames_instead_of_going_infinite():
    """A black lead-in coded exactly must not turn a clip's mean PSNR into inf (libvmaf's cap)."""
    from ncodec.eval.metrics import FRAME_PSNR_CAP, video_psnr
    from ncodec.media import Video

    rng = np.random.default_rng(0)
    y = rng.integers(0, 256, (3, 16, 16), dtype=np.uint8)
    y[0] = 0  # frame 0 is black and will be reproduced exactly
    u = np.full((3, 8, 8), 128, np.uint8)
    ref = Video.from_yuv420(y, u, u.copy(), 25)
    y2 = y.copy()
    y2[1:] ^= 1  # frames 1, 2: every luma sample off by one -> MSE 1 -> 48.13 dB
    out = video_psnr(ref, Video.from_yuv420(y2, u.copy(), u.copy(), 25))
    lossy = 10 * math.log10(255 ** 2)
    assert out["y_psnr"] == pytest.approx((FRAME_PSNR_CAP + 2 * lossy) / 3)
    assert out["yuv_psnr"] == pytest.approx((FRAME_PSNR_CAP + 2 * (6 * lossy + 2 * FRAME_PSNR_CAP) / 8) / 3)
    assert video_psnr(ref, ref)["y_psnr"] == FRAME_PSNR_CAP


def test_pesq_wideband_ranks_real_speech_and_its_codings():
    """PESQ-WB (P.862.2) on the bundled speech: the reference scores at the top of the scale,
    Opus at 24 kbit/s well above 8 kbit/s, and a 48 kHz copy is measured at 16 kHz."""
    import ncodec
    from ncodec.datasets.samples import load_sample
    from ncodec.eval.measure import measure
    from ncodec.media_io.audio import resample

    speech = load_sample("audio")
    assert speech.sample_rate == 16000
    r = speech.samples[0].astype(np.float64)
    assert aq.pesq_wb(r, r, 16000) > 4.5
    scores = {}
    for kbps in (8, 24):
        coded = ncodec.decode(ncodec.encode(speech, "opus", kbps))
        scores[kbps] = measure(speech, coded, 1, ["pesq"])["pesq"]
    assert 1.0 <= scores[8] < scores[24] <= 4.64
    up = resample(speech.samples, 16000, 48000)[0].astype(np.float64)
    assert aq.pesq_wb(up, up, 48000) > 4.5
    assert math.isnan(aq.pesq_wb(np.zeros(16000), np.zeros(16000), 16000))  # no speech: no score


def test_dnsmos_matches_the_reference_and_ranks_noise_below_speech():
    """DNSMOS P.835 OVRL of the bundled speech is what speechmos's own ``dnsmos.run`` gives
    (2.41334, checked once with librosa installed); added noise scores lower; the same result
    at another input rate and on every call."""
    from ncodec.datasets.samples import load_sample
    from ncodec.media_io.audio import resample

    speech = load_sample("audio")
    x = speech.samples[0]
    clean = aq.dnsmos(x, speech.sample_rate)
    assert abs(clean - 2.41334) < 1e-3
    assert aq.dnsmos(x, speech.sample_rate) == clean
    noisy = np.clip(x + 0.05 * np.random.default_rng(0).standard_normal(x.size), -1, 1).astype(np.float32)
    assert 1.0 <= aq.dnsmos(noisy, speech.sample_rate) < clean - 0.3
    assert abs(aq.dnsmos(resample(x[None], 16000, 48000)[0], 48000) - clean) < 0.1
    assert np.isnan(aq.dnsmos(np.zeros(16000, np.float32), 16000))
