"""The torch wavelet-packet transform equals pywavelets and reconstructs perfectly."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch

from ncodec.codecs.wavelets import dwt, idwt, packet_analysis, packet_synthesis


@pytest.mark.parametrize("wavelet", ["bior4.4", "db2", "haar", "sym4"])
def test_one_level_equals_pywavelets_periodization(wavelet):
    x = np.random.default_rng(0).normal(size=(3, 96))
    a, d = pywt.dwt(x, wavelet, mode="periodization", axis=-1)
    out = dwt(torch.from_numpy(x), wavelet).numpy()
    np.testing.assert_allclose(out[:, 0], a, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], d, atol=1e-12)
    back = idwt(torch.from_numpy(np.stack([a, d], 1)), wavelet).numpy()
    np.testing.assert_allclose(back, pywt.idwt(a, d, wavelet, mode="periodization", axis=-1), atol=1e-12)
    np.testing.assert_allclose(back, x, atol=1e-10)


@pytest.mark.parametrize("levels", [1, 3, 4])
def test_packets_equal_pywavelets_in_frequency_order_and_invert(levels):
    x = np.random.default_rng(levels).normal(size=(2, 16 * 40))
    bands = packet_analysis(torch.from_numpy(x), levels).numpy()
    assert bands.shape == (2, 1 << levels, x.shape[1] >> levels)
    for i in range(2):
        wp = pywt.WaveletPacket(x[i], "bior4.4", mode="periodization", maxlevel=levels)
        ref = np.stack([node.data for node in wp.get_level(levels, order="freq")])
        np.testing.assert_allclose(bands[i], ref, atol=1e-10)
    back = packet_synthesis(torch.from_numpy(bands)).numpy()
    np.testing.assert_allclose(back, x, atol=1e-10)


def test_frequency_order_puts_a_tone_in_its_band():
    sr, levels = 16000, 4
    t = np.arange(sr) / sr
    for f in (300.0, 2700.0, 7100.0):
        bands = packet_analysis(torch.from_numpy(np.sin(2 * np.pi * f * t))[None], levels)[0]
        energy = bands.pow(2).sum(-1)
        assert int(energy.argmax()) == int(f // (sr / 2 / (1 << levels)))


def test_float32_reconstruction_gradients_and_thread_independence():
    x = torch.randn(2, 4000, requires_grad=True)
    bands = packet_analysis(x, 4)
    back = packet_synthesis(bands)
    assert (back - x).abs().max() < 1e-4
    back.pow(2).sum().backward()
    assert torch.isfinite(x.grad).all()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = packet_synthesis(packet_analysis(x.detach(), 4))
        torch.set_num_threads(2)
        two = packet_synthesis(packet_analysis(x.detach(), 4))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_lengths_that_do_not_split_are_refused():
    with pytest.raises(ValueError, match="even length"):
        dwt(torch.zeros(1, 7))
    with pytest.raises(ValueError, match="at least"):
        packet_analysis(torch.zeros(1, 64), 4)  # 4 samples per band < 10 taps
    with pytest.raises(ValueError, match="power-of-two"):
        packet_synthesis(torch.zeros(1, 3, 16))


@pytest.mark.parametrize("wavelet", ["bior4.4", "haar"])
def test_one_2d_level_equals_pywavelets_dwtn(wavelet):
    from ncodec.codecs.wavelets import dwt2, idwt2

    x = np.random.default_rng(1).normal(size=(2, 3, 32, 48))
    out = dwt2(torch.from_numpy(x), wavelet).numpy()
    ref = pywt.dwtn(x, wavelet, mode="periodization", axes=(-2, -1))
    for i, key in enumerate(("aa", "ad", "da", "dd")):
        np.testing.assert_allclose(out[:, :, i], ref[key], atol=1e-12)
    np.testing.assert_allclose(idwt2(torch.from_numpy(out), wavelet).numpy(), x, atol=1e-10)


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_2d_packets_split_every_subband_and_invert(levels):
    from ncodec.codecs.wavelets import packet_analysis_2d, packet_synthesis_2d

    x = np.random.default_rng(levels).normal(size=(2, 3, 64, 40 * 2 ** (levels - 1)))
    bands = packet_analysis_2d(torch.from_numpy(x), levels).numpy()
    size = (x.shape[2] >> levels, x.shape[3] >> levels)
    assert bands.shape == (2, 3 * 4 ** levels, *size)
    ref = [x]  # the definition: pywavelets' 2-D level on every subband, children in dwtn key order
    for _ in range(levels):
        ref = [d[k] for r in ref for d in [pywt.dwtn(r, "bior4.4", mode="periodization", axes=(-2, -1))]
               for k in ("aa", "ad", "da", "dd")]
    ref = np.stack(ref, axis=2).reshape(2, 3 * 4 ** levels, *size)  # channel-major, then subband
    np.testing.assert_allclose(bands, ref, atol=1e-10)
    np.testing.assert_allclose(packet_synthesis_2d(torch.from_numpy(bands), levels).numpy(), x, atol=1e-9)
