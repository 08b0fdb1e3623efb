"""Measure one coded item: rate from the real file size plus the requested quality metrics.

Metric names (``--metrics``):

* images: ``psnr`` (RGB), ``psnr-y`` (BT.601 luma), ``psnr-y709``, ``ms-ssim``, ``lpips``;
* video: ``psnr`` (= Y-PSNR), ``yuv-psnr`` (6:1:1), ``ms-ssim`` (on Y, frame average);
* audio: ``snr``, ``si-sdr``, ``mel``, ``stoi``, ``pesq`` (wide-band; all after delay compensation),
  ``dnsmos`` (P.835 overall, non-intrusive).

Rates: ``bpp`` (images, video over all frames), ``kbps`` (audio, video at its fps).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ncodec.eval import audio_quality as aq
from ncodec.eval import image_quality as iq
from ncodec.eval.metrics import bits_per_pixel, kbps, video_psnr
from ncodec.media import Audio, Image, Media, Video

METRICS = {
    "image": ("psnr", "psnr-y", "psnr-y709", "ms-ssim", "lpips"),
    "video": ("psnr", "yuv-psnr", "ms-ssim"),
    "audio": ("snr", "si-sdr", "mel", "stoi", "pesq", "dnsmos"),
}
DEFAULT_METRICS = {"image": ("psnr", "ms-ssim"), "video": ("psnr", "ms-ssim"), "audio": ("si-sdr", "mel", "stoi")}
#: metrics where smaller is better (BD-rate uses their negation)
LOWER_IS_BETTER = {"lpips", "mel"}
RATE_KEY = {"image": "bpp", "video": "bpp", "audio": "kbps"}


def check_metrics(kind: str, names: Optional[list[str]]) -> list[str]:
    names = list(names or DEFAULT_METRICS[kind])
    bad = [n for n in names if n not in METRICS[kind]]
    if bad:
        raise ValueError(f"unknown {kind} metric(s) {', '.join(bad)}; choose from {', '.join(METRICS[kind])}")
    return names


def _video_ms_ssim_y(ref: Video, dist: Video) -> float:
    from pytorch_msssim import ms_ssim
    import torch

    y0, y1 = ref.to_yuv420().planes[0], dist.to_yuv420().planes[0]
    if min(y0.shape[1:]) < iq.MS_SSIM_MIN_SIDE:
        return math.nan
    vals = []
    with torch.no_grad():
        for t in range(0, y0.shape[0], 16):
            a = torch.from_numpy(y0[t:t + 16].astype(np.float32))[:, None]
            b = torch.from_numpy(y1[t:t + 16].astype(np.float32))[:, None]
            vals.append(ms_ssim(a, b, data_range=255.0, size_average=False).double().numpy())
    return float(np.mean(np.concatenate(vals)))


def measure(ref: Media, dist: Media, num_bytes: int, metrics: list[str],
            lpips_metric: Any = None) -> dict[str, float]:
    """Rate and metrics for one decoded item (NaN where a metric does not apply)."""
    out: dict[str, float] = {"bytes": float(num_bytes)}
    if isinstance(ref, Image):
        out["bpp"] = bits_per_pixel(num_bytes, ref)
        for m in metrics:
            if m == "psnr":
                out[m] = iq.psnr_rgb(ref, dist)
            elif m == "psnr-y":
                out[m] = iq.psnr_y(ref, dist, "bt601")
            elif m == "psnr-y709":
                out[m] = iq.psnr_y(ref, dist, "bt709")
            elif m == "ms-ssim":
                ok = min(ref.height, ref.width) >= iq.MS_SSIM_MIN_SIDE and ref.channels == 3
                out[m] = iq.ms_ssim(ref, dist) if ok else math.nan
            elif m == "lpips":
                out[m] = lpips_metric(ref, dist) if lpips_metric is not None and ref.channels == 3 else math.nan
    elif isinstance(ref, Video):
        out["bpp"] = bits_per_pixel(num_bytes, ref)
        out["kbps"] = kbps(num_bytes, ref)
        need = set(metrics)
        if need & {"psnr", "yuv-psnr"}:
            p = video_psnr(ref, dist)
            out["psnr"], out["yuv-psnr"] = p["y_psnr"], p["yuv_psnr"]
        if "ms-ssim" in need:
            out["ms-ssim"] = _video_ms_ssim_y(ref, dist)
    elif isinstance(ref, Audio):
        out["kbps"] = kbps(num_bytes, ref)
        r, d, delay = aq.align(ref, dist, ref.sample_rate)
        out["delay_samples"] = float(delay)
        for m in metrics:
            if m == "snr":
                out[m] = aq.snr(r, d)
            elif m == "si-sdr":
                out[m] = aq.si_sdr(r, d)
            elif m == "mel":
                out[m] = aq.mel_distance(r, d, ref.sample_rate)
            elif m == "stoi":
                out[m] = aq.stoi(r, d, ref.sample_rate)
            elif m == "pesq":
                out[m] = aq.pesq_wb(r, d, ref.sample_rate)
            elif m == "dnsmos":
                out[m] = aq.dnsmos(d, ref.sample_rate)
    return out
