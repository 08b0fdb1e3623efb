"""Bjøntegaard delta metrics (VCEG-M33) with piecewise cubic Hermite interpolation.

For two RD curves, anchor ``(R_a, D_a)`` and test ``(R_t, D_t)``:

* **BD-rate**: interpolate ``log R`` as a function of ``D`` for each curve with PCHIP,
  integrate both over the overlapping distortion interval ``[lo, hi]`` and report
  ``exp((I_t - I_a) / (hi - lo)) - 1`` in percent: the average rate change at equal quality
  (negative = the test codec needs fewer bits).
* **BD-metric** (BD-PSNR for PSNR): interpolate ``D`` as a function of ``log R`` and report
  the average difference ``(I_t - I_a) / (hi - lo)`` over the overlapping log-rate interval.

PCHIP (shape-preserving piecewise cubic, as in the JCT-VC/JVET common-test-condition
sheets and CompressAI) does not overshoot between points, unlike the original cubic fit.
Any number of points >= 2 per curve; points are sorted, duplicates rejected.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator


class BDError(ValueError):
    """Curves that cannot be compared (too few points, no overlap, duplicates, bad rates)."""


def _prepare(rate: Sequence[float], metric: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64).reshape(-1)
    m = np.asarray(metric, dtype=np.float64).reshape(-1)
    if r.size != m.size:
        raise BDError(f"{name}: {r.size} rates but {m.size} metric values")
    if r.size < 2:
        raise BDError(f"{name}: at least 2 RD points are needed, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(m))) or np.any(r <= 0):
        raise BDError(f"{name}: rates must be positive and all values finite")
    return np.log(r), m


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, name: str) -> float:
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise BDError(f"{name}: two RD points share the same abscissa; drop duplicates first")
    return float(PchipInterpolator(x, y).integrate(lo, hi))


def _overlap(a: np.ndarray, b: np.ndarray, what: str) -> tuple[float, float]:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if not hi > lo:
        raise BDError(f"the curves do not overlap in {what} ([{a.min():.4g}, {a.max():.4g}] vs "
                      f"[{b.min():.4g}, {b.max():.4g}]); choose qualities that span a common range")
    return float(lo), float(hi)


def bd_rate(rate_anchor: Sequence[float], metric_anchor: Sequence[float],
            rate_test: Sequence[float], metric_test: Sequence[float]) -> float:
    """Average rate difference of test vs anchor at equal quality, in percent.

    >>> round(bd_rate([1, 2, 4, 8], [30, 33, 36, 39], [0.9, 1.8, 3.6, 7.2], [30, 33, 36, 39]), 6)
    -10.0
    """
    lra, ma = _prepare(rate_anchor, metric_anchor, "anchor")
    lrt, mt = _prepare(rate_test, metric_test, "test")
    lo, hi = _overlap(ma, mt, "quality")
    ia = _integral(ma, lra, lo, hi, "anchor")
    it = _integral(mt, lrt, lo, hi, "test")
    return float((np.exp((it - ia) / (hi - lo)) - 1.0) * 100.0)


def bd_metric(rate_anchor: Sequence[float], metric_anchor: Sequence[float],
              rate_test: Sequence[float], metric_test: Sequence[float]) -> float:
    """Average quality difference of test vs anchor at equal rate (e.g. BD-PSNR in dB)."""
    lra, ma = _prepare(rate_anchor, metric_anchor, "anchor")
    lrt, mt = _prepare(rate_test, metric_test, "test")
    lo, hi = _overlap(lra, lrt, "rate")
    ia = _integral(lra, ma, lo, hi, "anchor")
    it = _integral(lrt, mt, lo, hi, "test")
    return float((it - ia) / (hi - lo))


bd_psnr = bd_metric
