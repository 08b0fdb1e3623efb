"""Turn sweep records into RD curves and Bjøntegaard deltas.

* Curves follow the CompressAI convention: for each codec and quality point, rate and every
  metric are averaged over items (infinite values, e.g. PSNR of a lossless result, make the
  point's mean infinite and the point is left out of BD computations).
* BD-rate of each codec against the anchor is reported twice: on those mean curves, and as
  the mean of per-item BD-rates (items whose curves do not overlap are counted and skipped).
  An item where the *anchor* reaches an infinite metric (e.g. a video clip whose frames are
  all black, coded exactly) would make every mean point infinite, so the mean curves used
  for that metric's BD-rate leave such items out and say how many
  (``mean_curve_items_left_out``).
* Metrics where lower is better (LPIPS, mel distance) are negated for BD-rate, and MS-SSIM is
  converted to dB (``-10 log10(1 - x)``) first, as is customary.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Optional

import numpy as np

from ncodec.eval.bjontegaard import BDError, bd_rate
from ncodec.eval.measure import LOWER_IS_BETTER, RATE_KEY

TIME_KEYS = ("encode_s", "decode_s")


def bd_value(metric: str, values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if metric == "ms-ssim":
        with np.errstate(divide="ignore"):
            return -10.0 * np.log10(np.maximum(1.0 - v, 0.0))
    if metric in LOWER_IS_BETTER:
        return -v
    return v


def curves(records: list[dict[str, Any]], kind: str, metrics: list[str]) -> dict[str, list[dict[str, float]]]:
    """``codec -> [point]`` sorted by rate; each point has quality, rate, metrics, times, n."""
    rate_key = RATE_KEY[kind]
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for r in records:
        if "error" in r or "quality" not in r:
            continue
        groups[(r["codec"], float(r["quality"]))].append(r)
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    for (codec, q), rs in groups.items():
        point = {"quality": q, "n": len(rs), rate_key: float(np.mean([r[rate_key] for r in rs]))}
        if kind == "video":
            point["kbps"] = float(np.mean([r["kbps"] for r in rs]))
        for m in metrics:
            vals = [r.get(m, math.nan) for r in rs]
            point[m] = float(np.mean(vals)) if all(v == v for v in vals) else math.nan
        for t in TIME_KEYS:
            point[t] = float(np.mean([r[t] for r in rs]))
        if kind == "video":
            frames = sum(r.get("frames", 0) for r in rs)
            point["encode_fps"] = frames / max(sum(r["encode_s"] for r in rs), 1e-9)
            point["decode_fps"] = frames / max(sum(r["decode_s"] for r in rs), 1e-9)
        out[codec].append(point)
    return {c: sorted(pts, key=lambda p: p[rate_key]) for c, pts in out.items()}


def _bd(points_a, points_t, rate_key, metric) -> Optional[float]:
    def xy(points):
        r = np.array([p[rate_key] for p in points])
        m = bd_value(metric, np.array([p[metric] for p in points]))
        ok = np.isfinite(r) & np.isfinite(m) & (r > 0)
        return r[ok], m[ok]
    ra, ma = xy(points_a)
    rt, mt = xy(points_t)
    try:
        return bd_rate(ra, ma, rt, mt)
    except BDError:
        return None


def anchor_finite_curves(records: list[dict[str, Any]], kind: str, metric: str,
                         anchor: str) -> tuple[dict[str, list[dict[str, float]]], int]:
    """Mean curves for ``metric`` over the items where the anchor's ``metric`` is finite, and
    how many items were left out."""
    degenerate = {r["item"] for r in records if "error" not in r and r.get("codec") == anchor
                  and not math.isfinite(float(r.get(metric, math.nan)))}
    kept = [r for r in records if r.get("item") not in degenerate]
    return curves(kept, kind, [metric]), len(degenerate)


def bd_table(records: list[dict[str, Any]], kind: str, metrics: list[str], anchor: str) -> dict[str, dict[str, Any]]:
    """``codec -> metric -> {mean_curve, per_item_mean, items, items_skipped}`` vs ``anchor``."""
    rate_key = RATE_KEY[kind]
    mean_curves = curves(records, kind, metrics)
    if anchor not in mean_curves:
        raise ValueError(f"anchor {anchor!r} has no results; run it in the same sweep")
    per_item: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if "error" not in r and "quality" in r:
            per_item[r["item"]][r["codec"]].append(r)
    finite_curves = {m: anchor_finite_curves(records, kind, m, anchor) for m in metrics}
    table: dict[str, dict[str, Any]] = {}
    for codec in mean_curves:
        table[codec] = {}
        for m in metrics:
            mc, left_out = finite_curves[m]
            entry: dict[str, Any] = {
                "mean_curve": _bd(mc[anchor], mc[codec], rate_key, m) if anchor in mc and codec in mc else None,
                "mean_curve_items_left_out": left_out}
            vals, skipped = [], 0
            for item, by_codec in per_item.items():
                if anchor in by_codec and codec in by_codec:
                    v = _bd(sorted(by_codec[anchor], key=lambda r: r[rate_key]),
                            sorted(by_codec[codec], key=lambda r: r[rate_key]), rate_key, m)
                    if v is None:
                        skipped += 1
                    else:
                        vals.append(v)
            entry["per_item_mean"] = float(np.mean(vals)) if vals else None
            entry["items"] = len(vals)
            entry["items_skipped"] = skipped
            table[codec][m] = entry
    return table


def rate_at(points: list[dict[str, float]], rate_key: str, metric: str, rate: float) -> Optional[float]:
    """Metric at a given rate by PCHIP interpolation in log-rate (None outside the curve)."""
    from scipy.interpolate import PchipInterpolator

    pts = [p for p in points if math.isfinite(p[metric]) and p[rate_key] > 0]
    if len(pts) < 2:
        return None
    x = np.log([p[rate_key] for p in pts])
    y = np.array([p[metric] for p in pts])
    order = np.argsort(x)
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 0])
    x, y = x[keep], y[keep]
    if len(x) < 2 or not (x[0] <= math.log(rate) <= x[-1]):
        return None
    return float(PchipInterpolator(x, y)(math.log(rate)))
