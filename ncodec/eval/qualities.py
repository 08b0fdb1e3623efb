"""``--qualities auto``: per codec, quality values whose rates span a common range.

Each codec is probed on the first item(s) of the dataset at ``probe_points`` qualities
spread over its whole range; ``log(rate)`` is interpolated as a monotone function of the
quality knob, and for each target rate (log-spaced in ``rate_range``) the quality giving
that rate is read off and rounded to the codec's quality step. Targets outside what a
codec can reach are clamped to its extreme qualities, and duplicates are dropped, so every
codec gets at most ``points`` qualities and curves overlap wherever the codecs allow.
Codecs whose knob *is* a target rate they size themselves for (``rate_is_target``, the
NeRV family) get the log-spaced targets directly, without probing.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ncodec.eval.measure import RATE_KEY
from ncodec.media import Media

#: default target rate ranges: bits per pixel for images and video, kbit/s for audio
RATE_RANGES = {"image": (0.2, 3.0), "video": (0.01, 0.2), "audio": (6.0, 64.0)}


def _rate(codec, media: Media, q: float) -> float:
    data = codec.encode(media, q)
    n = len(data)
    if media.kind == "audio":
        return 8.0 * n / media.duration / 1000.0
    return 8.0 * n / media.num_pixels


def _snap(codec, q: float) -> float:
    lo, hi = codec.quality_range
    if codec.integer_quality:
        q = float(round(q))
    return float(min(max(q, lo), hi))


def auto_qualities(codec, probes: Sequence[Media], *, points: int = 6, probe_points: int = 13,
                   rate_range: tuple[float, float] | None = None) -> list[float]:
    """Qualities for ``codec`` whose mean rate over ``probes`` spans ``rate_range``."""
    kind = probes[0].kind
    lo_r, hi_r = rate_range or RATE_RANGES[kind]
    lo_q, hi_q = codec.quality_range
    if codec.lossless or lo_q == hi_q:
        return [float(codec.default_quality)]
    if getattr(codec, "rate_is_target", False):
        # the knob is the target rate itself (NeRV-family codecs size their model for it):
        # no probing, which for them would mean fitting a network per probe
        return sorted({_snap(codec, float(q)) for q in np.geomspace(lo_r, hi_r, points)})
    # knobs that are rates (bpp, kbit/s) span decades: probe them on a log grid
    log_knob = codec.quality_is_rate and lo_q > 0
    raw = np.geomspace(lo_q, hi_q, probe_points) if log_knob else np.linspace(lo_q, hi_q, probe_points)
    grid = sorted({_snap(codec, q) for q in raw})
    rates = np.array([np.mean([_rate(codec, m, q) for m in probes]) for q in grid])
    q_arr = np.array(grid)
    lr = np.log(np.maximum(rates, 1e-12))
    if lr[-1] < lr[0]:  # knobs like CRF: larger value, fewer bits
        q_arr, lr = q_arr[::-1], lr[::-1]
    lr = np.maximum.accumulate(lr)  # monotone for inversion
    ux, idx = np.unique(lr, return_index=True)
    targets = np.linspace(math.log(lo_r), math.log(hi_r), points)
    chosen = [_snap(codec, float(np.interp(t, ux, q_arr[idx]))) for t in targets]
    out = sorted(set(chosen))
    return out


def parse_qualities(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"qualities must be 'auto' or comma-separated numbers, got {text!r}") from None


__all__ = ["RATE_KEY", "RATE_RANGES", "auto_qualities", "parse_qualities"]
