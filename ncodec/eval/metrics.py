"""Distortion and rate metrics shared by the demo, the CLI and the RD harness.

* :func:`psnr` -- ``10 log10(255^2 / MSE)`` over all samples of two uint8 arrays (inf when equal).
* :func:`video_psnr` -- per-frame Y-PSNR and YUV-PSNR (weights 6:1:1), averaged over frames;
  a frame coded exactly counts as :data:`FRAME_PSNR_CAP` dB (libvmaf's 8-bit cap, ``6 * 8 + 12``),
  so one exact frame (a black lead-in) does not make the whole clip's mean infinite.
* :func:`snr` -- ``10 log10(sum x^2 / sum (x - y)^2)`` for audio (inf when equal).
* :func:`bits_per_pixel`, :func:`kbps` -- rates from real byte counts.
"""

from __future__ import annotations

import math

import numpy as np

from ncodec.media import Audio, Image, Video

FRAME_PSNR_CAP = 60.0


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(a: np.ndarray | Image, b: np.ndarray | Image) -> float:
    a = a.pixels if isinstance(a, Image) else a
    b = b.pixels if isinstance(b, Image) else b
    return psnr_from_mse(_mse(a, b))


def video_psnr(ref: Video, dist: Video) -> dict[str, float]:
    """Frame-averaged Y-PSNR and YUV-PSNR (6:1:1), both videos taken as YUV 4:2:0.

    Each plane's per-frame PSNR is capped at :data:`FRAME_PSNR_CAP` before averaging.
    """
    r, d = ref.to_yuv420().planes, dist.to_yuv420().planes
    if r[0].shape != d[0].shape:
        raise ValueError(f"video shapes differ: {r[0].shape} vs {d[0].shape}")
    y, yuv = [], []
    for t in range(r[0].shape[0]):
        p = [min(psnr_from_mse(_mse(r[i][t], d[i][t])), FRAME_PSNR_CAP) for i in range(3)]
        y.append(p[0])
        yuv.append((6 * p[0] + p[1] + p[2]) / 8)
    return {"y_psnr": float(np.mean(y)), "yuv_psnr": float(np.mean(yuv))}


def snr(ref: np.ndarray | Audio, dist: np.ndarray | Audio) -> float:
    r = ref.samples if isinstance(ref, Audio) else ref
    d = dist.samples if isinstance(dist, Audio) else dist
    if r.shape != d.shape:
        raise ValueError(f"shapes differ: {r.shape} vs {d.shape}")
    r64 = r.astype(np.float64)
    noise = float(np.sum((r64 - d.astype(np.float64)) ** 2))
    signal = float(np.sum(r64 * r64))
    if noise == 0:
        return math.inf
    return 10.0 * math.log10(max(signal, 1e-30) / noise)


def bits_per_pixel(num_bytes: int, media: Image | Video) -> float:
    return 8.0 * num_bytes / media.num_pixels


def kbps(num_bytes: int, media: Audio | Video) -> float:
    return 8.0 * num_bytes / media.duration / 1000.0


def quality_summary(ref, dist, num_bytes: int) -> dict[str, float]:
    """The headline rate and distortion numbers for any medium (used by the demo and CLI)."""
    if isinstance(ref, Image):
        return {"bpp": bits_per_pixel(num_bytes, ref), "psnr": psnr(ref, dist)}
    if isinstance(ref, Video):
        out = {"bpp": bits_per_pixel(num_bytes, ref), "kbps": kbps(num_bytes, ref)}
        out.update(video_psnr(ref, dist))
        return out
    return {"kbps": kbps(num_bytes, ref), "snr": snr(ref, dist)}
