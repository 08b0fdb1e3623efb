"""The latents layer: four steps per learned codec, latents without synthesis, analysis without coding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ncodec
from ncodec.codecs import get
from ncodec.codecs.base import LearnedCodec
from ncodec.container import Container
from ncodec.datasets.samples import load_sample
from ncodec.errors import FormatError, LimitError
from ncodec.latents import LatentCodec

GOLDEN = Path(__file__).resolve().parent / "golden"
IMAGE = ["factorized", "hyperprior", "mean-scale", "checkerboard"]
VIDEO = ["nerv", "hnerv"]
AUDIO = ["wavelet-audio", "wavelet-music", "rvq-audio"]


def _no_synthesis(monkeypatch, codec):
    """Make every synthesis network and the renderer fail if anything calls them."""
    def refuse(*args, **kwargs):
        raise AssertionError("synthesis ran")

    if codec.kind == "image":
        monkeypatch.setattr(codec.model.g_s, "forward", refuse)
        monkeypatch.setattr(type(codec.model), "synthesise", refuse)
    elif codec.kind == "audio":
        monkeypatch.setattr(type(codec.model), "synthesis", refuse)
        monkeypatch.setattr(type(codec.model), "synthesise", refuse)
    else:
        from ncodec.codecs.video import hnerv, nerv, rendering

        monkeypatch.setattr(rendering, "render", refuse)
        monkeypatch.setattr(nerv.NeRV, "forward", refuse)
        monkeypatch.setattr(hnerv.HNeRVDecoder, "forward", refuse)


@pytest.mark.parametrize("name", IMAGE + VIDEO + AUDIO)
def test_every_learned_codec_implements_the_four_steps(name):
    codec = get(name)
    assert isinstance(codec, LearnedCodec) and isinstance(codec, LatentCodec)


@pytest.mark.parametrize("name", IMAGE + VIDEO + AUDIO)
def test_latents_of_a_stream_run_no_synthesis(name, monkeypatch):
    data = (GOLDEN / f"{name}.ncd").read_bytes()
    codec = get(name)
    _no_synthesis(monkeypatch, codec)
    lat = codec.latents(data)
    assert lat.codec == name and lat.media == Container.from_bytes(data).media
    assert all(v.dtype == np.int64 or k in ("y_hat", "v_hat") for k, v in lat.tensors.items())
    with pytest.raises(AssertionError, match="synthesis ran"):
        codec.synthesise(lat)  # the patch is live: the call above really ran none of it


@pytest.mark.parametrize("name", IMAGE + VIDEO + AUDIO)
def test_four_steps_compose_to_the_stream_and_the_decode(name):
    data = (GOLDEN / f"{name}.ncd").read_bytes()
    c = Container.from_bytes(data)
    codec = get(name)
    lat = ncodec.latents(GOLDEN / f"{name}.ncd")
    chunks, params = codec.to_chunks(lat)
    assert chunks == c.chunks and params == c.params  # entropy coding of the decoded latents: same bytes
    out, ref = codec.synthesise(lat), ncodec.decode(data)
    if out.kind == "image":
        assert np.array_equal(out.pixels, ref.pixels)
    elif out.kind == "audio":
        assert np.array_equal(out.samples, ref.samples) and out.sample_rate == ref.sample_rate
    else:
        assert all(np.array_equal(a, b) for a, b in zip(out.planes, ref.planes))


@pytest.mark.parametrize("name", ["factorized", "checkerboard"])
def test_analyse_gives_the_latents_that_the_stream_holds(name):
    image = load_sample("image")
    lat = ncodec.analyse(image, codec=name, quality=0.3)
    coded = ncodec.latents(ncodec.encode(image, name, 0.3))
    assert lat.describe() == coded.describe()
    for k in lat.tensors:
        assert np.array_equal(lat.tensors[k], coded.tensors[k]), k
    assert lat.tensors["y_hat"].shape[1] == 192


def test_latents_refuse_classical_streams_and_hostile_headers():
    with pytest.raises(FormatError, match="not a learned codec"):
        ncodec.latents(GOLDEN / "png.ncd")
    with pytest.raises(Exception, match="not a learned codec"):
        ncodec.analyse(load_sample("image"), codec="jpeg")
    c = Container.from_bytes((GOLDEN / "checkerboard.ncd").read_bytes())
    hostile = Container(c.codec, c.codec_version, {**c.media, "shape": [1, 10_000_000, 3]}, c.chunks, c.params,
                        c.weights, c.quality).to_bytes()
    with pytest.raises(LimitError):
        ncodec.latents(hostile)


def test_analyse_of_a_nerv_codec_is_the_fit_the_stream_holds():
    from ncodec.media import Video

    v = load_sample("video").to_yuv420()
    y, u, w = v.planes
    clip = Video((y[:4, :32, :48], u[:4, :16, :24], w[:4, :16, :24]), v.fps, "yuv420p", v.color_space)
    lat = ncodec.analyse(clip, codec="hnerv", quality=0.5, epochs="1")
    coded = ncodec.latents(ncodec.encode(clip, "hnerv", 0.5, epochs="1"))
    assert lat.describe() == coded.describe() and "embeddings" in lat.tensors
    assert all(np.array_equal(lat.tensors[k], coded.tensors[k]) for k in lat.tensors)
    assert {k: lat.side[k] for k in ("config", "weight_steps", "channel_steps")} == \
        {k: coded.side[k] for k in ("config", "weight_steps", "channel_steps")}


@pytest.mark.parametrize("name", IMAGE + VIDEO + AUDIO)
def test_features_of_every_learned_codec_are_float_and_channel_first(name, monkeypatch):
    """What compressed-domain learning gets from each golden stream, without synthesis: image
    ``M x h x w``, audio ``C x frames`` (mid and side: ``2 x C x frames``), HNeRV ``T x C x h x w``; NeRV has none and says so."""
    from ncodec.errors import NcodecError

    data = (GOLDEN / f"{name}.ncd").read_bytes()
    codec = get(name)
    _no_synthesis(monkeypatch, codec)
    lat = codec.latents(data)
    if name == "nerv":
        with pytest.raises(NcodecError, match="no per-frame latents"):
            codec.features(lat)
        return
    x = codec.features(lat)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    media = Container.from_bytes(data).media
    if codec.kind == "image":
        assert x.shape[0] == codec.model.M and x.ndim == 3
        s = codec.model.stride
        assert x.shape[1] == -(-media["shape"][0] // s) * s // 16  # 1/16 of the padded height
    elif codec.kind == "audio":
        assert x.shape[-2] in (getattr(codec.model, "M", None), getattr(codec.model, "D", None))
        assert x.ndim == 2 or (x.ndim == 3 and x.shape[0] == 2 and name == "wavelet-music")  # its golden is stereo
    else:
        assert x.ndim == 4 and x.shape[0] == media["shape"][0]
