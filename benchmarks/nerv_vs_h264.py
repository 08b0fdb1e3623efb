"""How many times H.264's bits a NeRV-family point needs, read from ``ncodec bench`` sweep directories.

For each sweep directory and each NeRV-family point in its ``results.jsonl``: the bits H.264
(and H.265) need for the same Y-PSNR on the same clip, interpolated with PCHIP in log-rate on
that anchor's curve from the same directory, and the ratio. A directory may hold several clips. Used for the
clip-length table in BENCHMARKS.md (issue 6)::

    .venv/bin/python benchmarks/nerv_vs_h264.py /work/runs/nerv-len3-32 /work/runs/nerv-len3-128
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np


def rate_at(points: list[tuple[float, float]], psnr: float) -> float:
    """Anchor bpp at ``psnr`` (PCHIP of log-rate over PSNR); NaN outside the anchor's range."""
    from scipy.interpolate import PchipInterpolator

    pts = sorted(points, key=lambda p: p[1])
    y = np.array([p[1] for p in pts])
    if len(y) < 2 or not (y[0] <= psnr <= y[-1]):
        return math.nan
    return float(np.exp(PchipInterpolator(y, np.log([p[0] for p in pts]))(psnr)))


def main() -> None:
    from ncodec.eval.sweep import read_results

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--metric", default="psnr", help="result key of the Y-PSNR (video: psnr)")
    ap.add_argument("--anchors", type=Path, default=None, metavar="DIR",
                    help="take the H.264/H.265 curves from this sweep (same clip and frames) when a DIR lacks them")
    args = ap.parse_args()
    print("| clip | frames | codec | bpp | Y-PSNR (dB) | H.264 bpp at that PSNR | x H.264 | H.265 bpp | x H.265 "
          "| encode s / frame | decode frames/s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in args.dirs:
        recs = [r for r in read_results(d / "results.jsonl") if "error" not in r]
        curves: dict[tuple[str, str], list[tuple[float, float]]] = {}
        if args.anchors is not None:
            for r in read_results(args.anchors / "results.jsonl"):
                if "error" not in r and r["codec"] in ("h264", "h265"):
                    curves.setdefault(("*", r["codec"]), []).append((r["bpp"], r[args.metric]))
        for r in recs:
            if "nerv" not in r["codec"] and (args.anchors is None or r["codec"] not in ("h264", "h265")):
                curves.setdefault((r["item"], r["codec"]), []).append((r["bpp"], r[args.metric]))
        for r in recs:
            if "nerv" not in r["codec"]:
                continue
            frames = r.get("frames", 0)
            h264, h265 = (rate_at(curves.get((r["item"], c)) or curves.get(("*", c), []), r[args.metric])
                          for c in ("h264", "h265"))
            print(f"| {Path(r['item']).name} | {frames} | {r['codec']} | {r['bpp']:.4f} | {r[args.metric]:.2f} | {h264:.4f} "
                  f"| {r['bpp'] / h264:.2f}x | {h265:.4f} | {r['bpp'] / h265:.2f}x "
                  f"| {r['encode_s'] / frames:.1f} | {frames / r['decode_s']:.0f} |")


if __name__ == "__main__":
    main()
