"""Classical codecs (Pillow image codecs, PyAV video and audio codecs): round trips, rate
ordering, quality checks, odd sizes, exact lengths and clean failures on damaged payloads.

Never compare libx264 bitstreams by checksum: its output varies by ~0.1 % from run to run
inside one process once any FFmpeg decoder has run.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ncodec.codecs import get
from ncodec.codecs.classical.video import H264Codec, _strip_x264_info_sei
from ncodec.codecs.registry import ENTRIES
from ncodec.container import Container
from ncodec.datasets.samples import load_sample
from ncodec.errors import CorruptStreamError, MediaError, QualityError
from ncodec.media import Audio, Image, Video

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

CLASSICAL = [e for e in ENTRIES if e.module.startswith("ncodec.codecs.classical.")]
IMAGE_NAMES = [e.name for e in CLASSICAL if e.kind == "image"]
VIDEO_NAMES = [e.name for e in CLASSICAL if e.kind == "video"]
AUDIO_NAMES = [e.name for e in CLASSICAL if e.kind == "audio"]
LOSSY_IMAGE = [n for n in IMAGE_NAMES if n != "png"]
LOSSY_AUDIO = [n for n in AUDIO_NAMES if n != "flac"]

# (worse, better) quality pairs: "better" must cost more bytes. Video knobs are CRF (lower = better).
RATE_PAIRS = {"jpeg": (30, 90), "webp": (30, 90), "jpeg2000": (0.25, 1.0), "avif": (30, 80),
              "h264": (38, 22), "h265": (38, 24), "av1": (50, 30), "vp9": (50, 30),
              "opus": (16, 64), "aac": (24, 64), "mp3": (32, 96)}
# minimum PSNR (dB, RGB for images, Y for video) / SNR (dB, audio) at the default quality
MIN_QUALITY = {"jpeg": 28, "webp": 28, "jpeg2000": 30, "avif": 28,
               "h264": 30, "h265": 30, "av1": 30, "vp9": 30,
               "opus": 12, "aac": 12, "mp3": 10}


# ---------------------------------------------------------------------------- helpers
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def snr(a: np.ndarray, b: np.ndarray) -> float:
    err = np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if err == 0 else 10 * np.log10(np.sum(a.astype(np.float64) ** 2) / err)


def lag(a: np.ndarray, b: np.ndarray) -> int:
    """Shift of ``b`` against ``a`` (samples) maximising their cross-correlation."""
    n = a.shape[-1]
    c = np.fft.irfft(np.fft.rfft(a, 2 * n) * np.conj(np.fft.rfft(b, 2 * n)))
    k = int(np.argmax(c))
    return k if k < n else k - 2 * n


def with_payload(data: bytes, payload: bytes) -> bytes:
    """The same container with its payload replaced; checksums recomputed, so the codec's
    own decoder is what sees the damage."""
    c = Container.from_bytes(data)
    (name,) = c.chunks
    return Container(c.codec, c.codec_version, c.media, {name: payload}, c.params, c.weights,
                     c.quality).to_bytes()


@pytest.fixture(scope="module")
def image() -> Image:
    return load_sample("image")


@pytest.fixture(scope="module")
def video() -> Video:
    v = load_sample("video")
    return Video(tuple(p[:10] for p in v.planes), v.fps, v.pix_fmt, v.color_space)


@pytest.fixture(scope="module")
def audio() -> Audio:
    return load_sample("audio")


@pytest.fixture(scope="module")
def stereo() -> Audio:
    """0.5 s of 44.1 kHz stereo: two tones with a little noise (a rate no lossy codec here takes as is for Opus)."""
    sr = 44100
    t = np.arange(sr // 2) / sr
    rng = np.random.default_rng(3)
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)
    right = 0.3 * np.sin(2 * np.pi * 660 * t + 1.0) + 0.01 * rng.standard_normal(t.size)
    return Audio(np.stack([left, right]).astype(np.float32), sr)


def media_for(kind, image, video, audio):
    return {"image": image, "video": video, "audio": audio}[kind]


# ---------------------------------------------------------------------------- registry / description
@pytest.mark.parametrize("name", IMAGE_NAMES + VIDEO_NAMES + AUDIO_NAMES)
def test_codec_describes_itself(name):
    c = get(name)
    lo, hi = c.quality_range
    assert lo < hi and lo <= c.default_quality <= hi
    assert c.quality_unit and c.description
    settings = c.settings()
    assert isinstance(settings, dict) and settings
    json.dumps(settings)  # shown by `ncodec codecs --json`
    assert c.lossless == (name in ("png", "flac"))


def test_video_quality_convention_is_crf():
    for name in VIDEO_NAMES:
        assert "LOWER is better" in get(name).quality_unit


# ---------------------------------------------------------------------------- images
@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_image_round_trip(name, image):
    c = get(name)
    data = c.encode(image)
    out = c.decode(data)
    assert isinstance(out, Image) and out.pixels.shape == image.pixels.shape and out.pixels.dtype == np.uint8
    if name == "png":
        assert np.array_equal(out.pixels, image.pixels)
    else:
        assert psnr(image.pixels, out.pixels) > MIN_QUALITY[name]
    params = Container.from_bytes(data).params
    assert params["format"] == c.pil_format.lower()


@pytest.mark.parametrize("name", LOSSY_IMAGE)
def test_image_higher_quality_costs_more_bytes(name, image):
    c = get(name)
    lo, hi = RATE_PAIRS[name]
    small, big = c.encode(image, lo), c.encode(image, hi)
    assert len(small) < len(big)
    assert psnr(image.pixels, c.decode(small).pixels) < psnr(image.pixels, c.decode(big).pixels)


@pytest.mark.parametrize("name", IMAGE_NAMES)
@pytest.mark.parametrize("shape", [(37, 23, 1), (17, 31, 3), (1, 1, 3), (2, 5, 1)])
def test_image_odd_sizes_and_grey(name, shape, image):
    h, w, ch = shape
    px = image.pixels[40:40 + h, 60:60 + w]
    px = np.ascontiguousarray(px[:, :, 1:2] if ch == 1 else px)
    src = Image(px)
    c = get(name)
    out = c.decode(c.encode(src))
    assert out.pixels.shape == shape
    if name == "png":
        assert np.array_equal(out.pixels, px)
    elif h * w > 100:
        assert psnr(px, out.pixels) > 25


def test_jpeg2000_rate_knob_is_monotonic_and_met(image):
    c = get("jpeg2000")
    crop = Image(np.ascontiguousarray(image.pixels[:128, :128]))
    sizes, quality = [], []
    for bpp in (0.1, 0.25, 0.5, 1.0):
        data = c.encode(crop, bpp)
        payload = Container.from_bytes(data).chunks["bitstream"]
        assert 8 * len(payload) / crop.num_pixels <= bpp * 1.1 + 0.05  # the rate target is honoured
        sizes.append(len(data))
        quality.append(psnr(crop.pixels, c.decode(data).pixels))
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert quality == sorted(quality)
    params = Container.from_bytes(c.encode(crop, 0.5)).params
    assert params["irreversible"] is True and params["mct"] == 1 and params["quality_mode"] == "rates"


# ---------------------------------------------------------------------------- video
@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_video_round_trip(name, video):
    c = get(name)
    data = c.encode(video)
    out = c.decode(data)
    assert isinstance(out, Video) and out.pix_fmt == "yuv420p"
    assert [p.shape for p in out.planes] == [p.shape for p in video.planes]
    assert out.fps == video.fps and out.color_space == video.color_space
    assert psnr(video.planes[0], out.planes[0]) > MIN_QUALITY[name]
    params = Container.from_bytes(data).params
    assert params["fps"] == [24, 1] and params["frames"] == 10 and params["crf"] == c.default_quality
    assert params["thread_type"] == "FRAME"


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_video_lower_crf_costs_more_bytes(name, video):
    c = get(name)
    worse, better = RATE_PAIRS[name]
    small, big = c.encode(video, worse), c.encode(video, better)
    assert len(small) < len(big)


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_video_odd_size_rgb_input_and_bt709(name, video):
    rng = np.random.default_rng(7)
    base = video.to_rgb().planes[0][:4, 10:47, 20:61]  # 4 frames of 37 x 41
    frames = np.ascontiguousarray(np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8))
    src = Video.from_rgb(frames, Fraction(30000, 1001), color_space="bt709")
    c = get(name)
    data = c.encode(src)
    out = c.decode(data)
    assert out.pix_fmt == "yuv420p" and out.num_frames == 4 and (out.height, out.width) == (37, 41)
    assert out.planes[1].shape == (4, 19, 21)
    assert out.fps == Fraction(30000, 1001) and out.color_space == "bt709"
    ref = src.to_yuv420()
    assert psnr(ref.planes[0], out.planes[0]) > 28
    params = Container.from_bytes(data).params
    assert params["padded"] is True and params["coded_width"] % 2 == 0 and params["coded_height"] % 2 == 0


def test_x265_pads_widths_it_cannot_code(video):
    # libx265 corrupts its heap on widths 33..63 in this build; the codec pads them to 64
    y, u, v = video.planes
    src = Video((y[:3, :20, :34].copy(), u[:3, :10, :17].copy(), v[:3, :10, :17].copy()), video.fps,
                "yuv420p", "bt601")
    assert src.width == 34
    c = get("h265")
    data = c.encode(src)
    assert Container.from_bytes(data).params["coded_width"] == 64
    out = c.decode(data)
    assert (out.num_frames, out.height, out.width) == (3, 20, 34)


def test_av1_pads_thin_frames_it_cannot_code(video):
    # SVT-AV1 hangs on e.g. 8x66 (a side < 32, the other > 64); the codec pads such sides to 32
    y, u, v = video.planes
    src = Video((y[:2, :66, :8].copy(), u[:2, :33, :4].copy(), v[:2, :33, :4].copy()), video.fps, "yuv420p", "bt601")
    c = get("av1")
    data = c.encode(src)
    params = Container.from_bytes(data).params
    assert (params["coded_width"], params["coded_height"]) == (32, 66)
    assert c.decode(data).planes[0].shape == (2, 66, 8)


def test_single_frame_video(video):
    one = Video(tuple(p[:1] for p in video.planes), video.fps, "yuv420p", "bt601")
    for name in VIDEO_NAMES:
        c = get(name)
        assert c.decode(c.encode(one)).num_frames == 1


def test_x264_uses_frame_threads_not_slices(video):
    class RawX264(H264Codec):  # keep x264's option-string SEI to read its settings
        def _postprocess(self, payload: bytes) -> bytes:
            return payload

    raw = Container.from_bytes(RawX264().encode(video, 30)).chunks["bitstream"]
    assert b"x264 - core" in raw
    options = raw[raw.index(b"options: "):].split(b"\x00")[0].decode("ascii", "replace")
    assert "sliced_threads=0" in options and "crf=30.0" in options
    stripped = _strip_x264_info_sei(raw)
    assert b"x264 - core" not in stripped and len(raw) - len(stripped) > 200
    # the stripped stream is what the codec stores, and it decodes
    data = get("h264").encode(video, 30)
    assert b"x264 - core" not in Container.from_bytes(data).chunks["bitstream"]
    assert get("h264").decode(data).num_frames == video.num_frames


def test_tune_psnr_is_recorded(video):
    short = Video(tuple(p[:3] for p in video.planes), video.fps, "yuv420p", "bt601")
    for name in ("h264", "h265"):
        c = get(name, tune="psnr")
        assert c.settings()["tune"] == "psnr"
        params = Container.from_bytes(c.encode(short)).params
        assert params["tune"] == "psnr" and params["options"]["tune"] == "psnr"
    with pytest.raises(MediaError):
        get("h264", tune="film-grain-please")


# ---------------------------------------------------------------------------- audio
@pytest.mark.parametrize("name", AUDIO_NAMES)
def test_audio_round_trip_exact_length(name, audio, stereo):
    c = get(name)
    for src in (audio, stereo):
        data = c.encode(src)
        out = c.decode(data)
        assert isinstance(out, Audio) and out.samples.dtype == np.float32
        assert out.samples.shape == src.samples.shape and out.sample_rate == src.sample_rate
    params = Container.from_bytes(c.encode(audio)).params
    assert params["coded_samples"] >= 1 and "encoder_delay" in params and "trim_start" in params


@pytest.mark.parametrize("name", LOSSY_AUDIO)
def test_audio_quality_and_alignment(name, audio):
    c = get(name)
    out = c.decode(c.encode(audio, 64))
    assert lag(audio.samples[0], out.samples[0]) == 0  # priming trimmed exactly
    assert snr(audio.samples, out.samples) > MIN_QUALITY[name]


@pytest.mark.parametrize("name", LOSSY_AUDIO)
def test_audio_higher_bitrate_costs_more_bytes(name, audio):
    c = get(name)
    lo, hi = RATE_PAIRS[name]
    assert len(c.encode(audio, lo)) < len(c.encode(audio, hi))


def test_audio_encoder_delay_is_recorded(audio, stereo):
    aac = Container.from_bytes(get("aac").encode(audio)).params
    assert aac["encoder_delay"] == 1024 and aac["trim_start"] == 1024  # ADTS carries no delay
    opus = Container.from_bytes(get("opus").encode(stereo)).params
    assert opus["coded_sample_rate"] == 48000 and opus["resampled"] is True
    assert opus["encoder_delay"] == 312 and opus["trim_start"] == 0  # Ogg pre-skip does it
    mp3 = Container.from_bytes(get("mp3").encode(audio)).params
    assert mp3["encoder_delay"] > 0 and mp3["trim_start"] == 0  # LAME gapless header does it


def test_audio_resampling_is_recorded_and_undone(stereo):
    src = Audio(stereo.samples[:, :11000], 22000)  # a rate none of the lossy codecs takes
    for name, coded in (("opus", 24000), ("aac", 22050), ("mp3", 22050)):
        data = get(name).encode(src, 64)
        assert Container.from_bytes(data).params["coded_sample_rate"] == coded
        out = get(name).decode(data)
        assert out.sample_rate == 22000 and out.samples.shape == src.samples.shape
        assert snr(src.samples, out.samples) > 8
    # MP3 below 32 kbit/s at an MPEG-1 rate drops to the MPEG-2 half rate
    assert Container.from_bytes(get("mp3").encode(stereo, 16)).params["coded_sample_rate"] == 22050


def test_flac_is_exact_for_16_bit_audio(audio):
    c = get("flac")
    data = c.encode(audio)
    assert np.array_equal(c.decode(data).samples, audio.samples)
    assert Container.from_bytes(data).params["bits_per_sample"] == 16
    sizes = [len(c.encode(audio, q)) for q in (0, 12)]
    assert sizes[1] <= sizes[0]


def test_flac_quantises_other_input_to_16_bits(stereo):
    c = get("flac")
    out = c.decode(c.encode(stereo))
    assert np.max(np.abs(out.samples - stereo.samples)) <= 0.5 / 32768 + 1e-7
    assert np.array_equal(np.rint(out.samples * 32768), out.samples * 32768)


@pytest.mark.parametrize("name", AUDIO_NAMES)
def test_audio_more_than_two_channels_is_refused(name, stereo):
    quad = Audio(np.concatenate([stereo.samples, stereo.samples]), stereo.sample_rate)
    with pytest.raises(MediaError, match="channels"):
        get(name).encode(quad)


# ---------------------------------------------------------------------------- quality and damage
@pytest.mark.parametrize("name", IMAGE_NAMES + VIDEO_NAMES + AUDIO_NAMES)
def test_out_of_range_quality_raises(name, image, video, audio):
    c = get(name)
    m = media_for(c.kind, image, video, audio)
    lo, hi = c.quality_range
    for q in (lo - 1, hi + 1, float("nan"), "high"):
        with pytest.raises(QualityError):
            c.encode(m, q)


def test_fractional_quality_on_integer_knobs(image, audio):
    with pytest.raises(QualityError):
        get("jpeg").encode(image, 50.5)
    with pytest.raises(QualityError):
        get("flac").encode(audio, 5.5)
    assert get("jpeg2000").check_quality(0.37) == 0.37  # rate targets may be fractional
    assert get("h264").check_quality(23.5) == 23.5  # so may x264 / x265 CRF


@pytest.mark.parametrize("name", IMAGE_NAMES + VIDEO_NAMES + AUDIO_NAMES)
def test_corrupt_payload_raises_corrupt_stream_error(name, image, video, audio):
    c = get(name)
    m = media_for(c.kind, image, video, audio)
    if c.kind == "video":
        m = Video(tuple(p[:4] for p in m.planes), m.fps, m.pix_fmt, m.color_space)
    data = c.encode(m)
    payload = Container.from_bytes(data).chunks["bitstream"]
    rng = np.random.default_rng(11)
    garbage = rng.integers(0, 256, len(payload), dtype=np.uint8).tobytes()
    for bad in (garbage, payload[: len(payload) // 2], b""):
        with pytest.raises(CorruptStreamError):
            c.decode(with_payload(data, bad))


def test_bad_params_raise_corrupt_stream_error(video, audio):
    c = Container.from_bytes(get("vp9").encode(Video(tuple(p[:2] for p in video.planes), video.fps,
                                                     "yuv420p", "bt601")))
    c.params["coded_width"] = 10 ** 6
    with pytest.raises(CorruptStreamError):
        get("vp9").decode(c.to_bytes())
    a = Container.from_bytes(get("opus").encode(audio))
    a.params["trim_start"] = -5
    with pytest.raises(CorruptStreamError):
        get("opus").decode(a.to_bytes())


# ---------------------------------------------------------------------------- real media
@pytest.mark.skipif(not SHARED.exists(), reason="shared data set (../shared/data) is not present")
def test_kodak_image_rates_span_a_useful_range():
    from ncodec.media_io import read_image

    kodak = SHARED / "images" / "kodak" / "kodim23.png"
    if not kodak.exists():
        pytest.skip("kodim23.png is not in the shared data set")
    im = read_image(kodak)
    bpp = {}
    for name, (lo, hi) in {"jpeg": (10, 95), "webp": (5, 95), "jpeg2000": (0.1, 2.0), "avif": (10, 90)}.items():
        c = get(name)
        bpp[name] = [8 * len(c.encode(im, q)) / im.num_pixels for q in (lo, hi)]
    for name, (low, high) in bpp.items():
        assert low < 0.35 and high > 1.5, (name, bpp)
