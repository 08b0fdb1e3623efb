"""Wavelet-packet analysis and synthesis in torch, exactly as pywavelets computes them: 1-D
signals (the audio codecs) and images (separably, the wavelet image codec).

One level of the periodized discrete wavelet transform with analysis filters ``h`` (low) and
``g`` (high) of length ``F``, on a signal ``x`` of even length ``N``::

    a[k] = sum_j h[j] x[(2k + F/2 - j) mod N]        d[k] = sum_j g[j] x[(2k + F/2 - j) mod N]

and its inverse with the synthesis filters ``h~``, ``g~``::

    x[(2k + j - F/2 + 1) mod N] += a[k] h~[j] + d[k] g~[j]

(pywavelets' ``mode="periodization"``: critically sampled, ``N/2`` coefficients per band, and
perfect reconstruction for orthogonal and biorthogonal filters). The packet transform applies
the level to every band ``levels`` times, giving ``2^levels`` bands of ``N / 2^levels``
coefficients, returned in frequency order (pywavelets' ``order="freq"``: the natural tree order
permuted by the inverse Gray code, since each high-pass split mirrors the spectrum).

Images: one 2-D level is a 1-D level along the width, then along the height, giving four
subbands in the order ``[LL, LH, HL, HH]`` (first letter: the filter along the height; pywavelets'
``dwtn`` keys ``aa, ad, da, dd``); the 2-D packet transform splits every subband ``levels``
times, ``C x H x W`` -> ``C 4^levels x H / 2^levels x W / 2^levels`` (each input channel's
subbands together, in tree order).

Everything is convolutions, so it is differentiable and batched: ``x`` is ``B x N``, bands
``B x 2^levels x N / 2^levels``. Sums run in a fixed order (no atomics), so results do not
depend on thread counts.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pywt
import torch
import torch.nn.functional as F


@lru_cache(maxsize=16)
def _filters(wavelet: str) -> tuple[np.ndarray, ...]:
    w = pywt.Wavelet(wavelet)
    if len(w.dec_lo) % 2 or len(w.dec_lo) != len(w.rec_lo):
        raise ValueError(f"wavelet {wavelet!r}: need even filters of one length, got {len(w.dec_lo)}/{len(w.rec_lo)}")
    return tuple(np.asarray(f, dtype=np.float64) for f in (w.dec_lo, w.dec_hi, w.rec_lo, w.rec_hi))


def _bank(wavelet: str, kind: str, like: torch.Tensor) -> torch.Tensor:
    lo, hi = _filters(wavelet)[:2] if kind == "analysis" else _filters(wavelet)[2:]
    bank = np.stack([lo[::-1], hi[::-1]]) if kind == "analysis" else np.stack([lo, hi])
    return torch.tensor(bank.copy(), dtype=like.dtype, device=like.device)[:, None, :]  # 2 x 1 x F


def _check(n: int, taps: int, what: str) -> None:
    if n % 2 or n < taps:
        raise ValueError(f"{what}: each band needs an even length of at least {taps} samples, got {n}")


def dwt(x: torch.Tensor, wavelet: str = "bior4.4") -> torch.Tensor:
    """One periodized level: ``(..., N)`` -> ``(..., 2, N/2)`` (approximation, detail)."""
    *lead, n = x.shape
    taps = len(_filters(wavelet)[0])
    _check(n, taps, "dwt")
    s = taps // 2
    flat = x.reshape(-1, 1, n)
    padded = torch.cat([flat[..., n - (taps - 1 - s):], flat, flat[..., :s]], dim=-1)
    out = F.conv1d(padded, _bank(wavelet, "analysis", x), stride=2)[..., : n // 2]
    return out.reshape(*lead, 2, n // 2)


def idwt(coeffs: torch.Tensor, wavelet: str = "bior4.4") -> torch.Tensor:
    """Inverse of :func:`dwt`: ``(..., 2, K)`` -> ``(..., 2K)``."""
    *lead, two, k = coeffs.shape
    if two != 2:
        raise ValueError(f"idwt needs (..., 2, K) coefficients, got {tuple(coeffs.shape)}")
    taps = len(_filters(wavelet)[2])
    n = 2 * k
    _check(n, taps, "idwt")
    # weight 2 x 1 x F: the approximation through h~, the detail through g~, summed
    z = F.conv_transpose1d(coeffs.reshape(-1, 2, k), _bank(wavelet, "synthesis", coeffs), stride=2)  # n - 2 + F
    t = taps // 2 - 1
    room = torch.zeros(z.shape[0], 1, 4 * n, dtype=z.dtype, device=z.device)
    room[..., n: n + z.shape[-1]] = z
    # fold the circular wrap in a fixed order: y[i] = z[i + t] + z[i + t - n] + z[i + t + n]
    y = room[..., n + t: 2 * n + t] + room[..., t: n + t] + room[..., 2 * n + t: 3 * n + t]
    return y.reshape(*lead, n)


def _freq_order(levels: int) -> np.ndarray:
    """Natural-order position of each frequency-ordered band (inverse Gray code)."""
    freq = np.arange(1 << levels)
    return freq ^ (freq >> 1)


def packet_analysis(x: torch.Tensor, levels: int, wavelet: str = "bior4.4") -> torch.Tensor:
    """``B x N`` -> ``B x 2^levels x N/2^levels`` bands, lowest frequency first."""
    if x.dim() != 2:
        raise ValueError(f"packet_analysis needs B x N, got {tuple(x.shape)}")
    bands = x[:, None, :]
    for _ in range(levels):
        bands = dwt(bands, wavelet).flatten(1, 2)  # every node splits into (lo, hi): natural order
    return bands[:, torch.from_numpy(_freq_order(levels))]


def packet_synthesis(bands: torch.Tensor, wavelet: str = "bior4.4") -> torch.Tensor:
    """Inverse of :func:`packet_analysis`: ``B x 2^levels x K`` -> ``B x 2^levels K``."""
    b, count, k = bands.shape
    levels = count.bit_length() - 1
    if count != 1 << levels:
        raise ValueError(f"packet_synthesis needs a power-of-two number of bands, got {count}")
    natural = torch.empty_like(bands)
    natural[:, torch.from_numpy(_freq_order(levels))] = bands
    for _ in range(levels):
        natural = idwt(natural.reshape(b, -1, 2, natural.shape[-1]), wavelet)
    return natural[:, 0]


def dwt2(x: torch.Tensor, wavelet: str = "bior4.4") -> torch.Tensor:
    """One periodized 2-D level: ``(..., H, W)`` -> ``(..., 4, H/2, W/2)`` as ``[LL, LH, HL, HH]``."""
    w = dwt(x, wavelet)  # ..., H, 2, W/2
    hw = dwt(w.movedim(-3, -1), wavelet)  # ..., 2 (w), W/2, 2 (h), H/2
    out = hw.permute(*range(hw.dim() - 4), -2, -4, -1, -3)  # ..., 2 (h), 2 (w), H/2, W/2
    return out.reshape(*x.shape[:-2], 4, x.shape[-2] // 2, x.shape[-1] // 2)


def idwt2(coeffs: torch.Tensor, wavelet: str = "bior4.4") -> torch.Tensor:
    """Inverse of :func:`dwt2`: ``(..., 4, K, L)`` -> ``(..., 2K, 2L)``."""
    *lead, four, k, m = coeffs.shape
    if four != 4:
        raise ValueError(f"idwt2 needs (..., 4, K, L) coefficients, got {tuple(coeffs.shape)}")
    c = coeffs.reshape(*lead, 2, 2, k, m)  # ..., h, w, K, L
    n = len(lead)
    along_h = idwt(c.permute(*range(n), n + 1, n + 3, n, n + 2), wavelet)  # ..., 2 (w), L, 2K
    return idwt(along_h.movedim(-1, -3), wavelet)  # ..., 2K, 2 (w), L -> ..., 2K, 2L


def packet_analysis_2d(x: torch.Tensor, levels: int, wavelet: str = "bior4.4") -> torch.Tensor:
    """``B x C x H x W`` -> ``B x C 4^levels x H / 2^levels x W / 2^levels`` (see the module docstring)."""
    if x.dim() != 4:
        raise ValueError(f"packet_analysis_2d needs B x C x H x W, got {tuple(x.shape)}")
    bands = x
    for _ in range(levels):
        bands = dwt2(bands, wavelet).flatten(1, 2)
    return bands


def packet_synthesis_2d(bands: torch.Tensor, levels: int, wavelet: str = "bior4.4") -> torch.Tensor:
    """Inverse of :func:`packet_analysis_2d`."""
    b, count, k, m = bands.shape
    if count % (4 ** levels):
        raise ValueError(f"packet_synthesis_2d: {count} channels are not a multiple of 4^{levels}")
    x = bands
    for _ in range(levels):
        x = idwt2(x.reshape(b, x.shape[1] // 4, 4, x.shape[-2], x.shape[-1]), wavelet)
    return x
