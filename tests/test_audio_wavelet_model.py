"""The wavelet-packet hyperprior audio model (untrained): shapes, exact coding, rate estimate, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncodec.codecs.audio.wavelet_model import WaveletHyperprior
from ncodec.datasets.samples import load_sample


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return WaveletHyperprior().eval()


@pytest.fixture(scope="module")
def speech(model):
    x = load_sample("audio").samples[:, : 32 * model.stride]  # 16,384 samples of 16 kHz speech
    return torch.from_numpy(np.ascontiguousarray(x))


def test_frame_rates_and_training_outputs(model, speech):
    assert model.stride == 512
    shapes = model.latent_shapes(speech.shape[1])
    assert shapes == {"z": [1, 32, 32], "y": [1, 32, 128]}  # 125 and 31.25 frames/s at 16 kHz
    model.train()
    out = model(speech, torch.tensor([0.5]))
    model.eval()
    assert out["x_hat"].shape == speech.shape
    assert list(out["likelihoods"]["y"].shape) == shapes["y"] and list(out["likelihoods"]["z"].shape) == shapes["z"]
    bpp = sum(-torch.log2(v).sum() for v in out["likelihoods"].values())
    bpp.backward()
    assert all(p.grad is not None for p in model.g_a.parameters())
    model.zero_grad()


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("level", [1.0, 100.0])
def test_symbols_round_trip_exactly_within_the_rate_estimate(model, speech, q, level):
    speech = speech * level
    lat = model.latents(speech, q)
    sym = model.symbols(lat)
    data = model.encode_symbols(sym)
    out, y_hat = model.decode_symbols(data, model.latent_shapes(speech.shape[1]))
    assert all(np.array_equal(out[k], sym[k]) for k in sym)
    assert torch.equal(y_hat, model.dequantize(sym))
    bits = model.estimate_bits(speech, q)
    assert abs(len(data) - bits / 8) <= 0.01 * len(data) + 64
    x_hat = model.synthesise(y_hat, q)
    assert x_hat.shape == speech.shape and torch.isfinite(x_hat).all()


def test_higher_quality_costs_more_bits(model, speech):
    loud = speech * 100  # an untrained analysis maps quiet speech to all-zero symbols at any gain
    assert model.estimate_bits(loud, 0.0) < model.estimate_bits(loud, 1.0)


def test_synthesis_is_independent_of_thread_count(model, speech):
    y_hat = model.decode_symbols(model.encode_symbols(model.symbols(model.latents(speech, 0.5))),
                                 model.latent_shapes(speech.shape[1]))[1]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = model.synthesise(y_hat, 0.5)
        torch.set_num_threads(1)
        b = model.synthesise(y_hat, 0.5)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(a, b)
