"""How many times H.264's bits a NeRV-family point needs, read from ``ncodec bench`` sweep directories.

For each sweep directory and each NeRV-family point in its ``results.jsonl``: the bits H.264
(and H.265) need for the same Y-PSNR on the same clip, interpolated with PCHIP in log-rate on
that anchor's curve from the same directory, and the ratio. A directory may hold several clips. Used for the
clip-length table in BENCHMARKS.md (issue 6)::

    .venv/bin/python benchmarks/nerv_vs_h264.py /work/runs/nerv-len3-32 /work/runs/nerv-len3-128

Single streams (``.ncd`` files, e.g. from ``benchmarks/nerv_epochs.py --save``) are read with
``--streams``: their bpp from the file size, their Y-PSNR from the one measured at encode time,
against the curves of ``--anchors``::

    .venv/bin/python benchmarks/nerv_vs_h264.py --anchors benchmarks/results/nerv-chaplin-241f --streams X.ncd

``--smoke``: the committed sweep ``benchmarks/results/nerv-clips-64f``, and a tiny HNeRV stream of
the bundled sample against its curves (far below them: its ratios are ``nan``) (for tests).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

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
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--streams", nargs="*", type=Path, default=[], help="ncodec files to rate against --anchors")
    ap.add_argument("--metric", default="psnr", help="result key of the Y-PSNR (video: psnr)")
    ap.add_argument("--anchors", type=Path, default=None, metavar="DIR",
                    help="take the H.264/H.265 curves from this sweep (same clip and frames) when a DIR lacks them")
    ap.add_argument("--smoke", action="store_true", help="a committed sweep and a tiny stream (for tests)")
    args = ap.parse_args()
    if args.smoke:
        from nerv_checkpoint import smoke_dir, tiny_stream

        stream = smoke_dir() / "hnerv.ncd"
        stream.write_bytes(tiny_stream("hnerv"))
        _streams([stream], RESULTS / "nerv-clips-64f", args.metric)
        args.dirs = [RESULTS / "nerv-clips-64f"]  # its own curves, no --anchors
    elif args.streams:
        if args.anchors is None:
            raise SystemExit("--streams needs --anchors DIR")
        _streams(args.streams, args.anchors, args.metric)
    if not args.dirs:
        return
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


def _streams(paths: list[Path], anchors: Path, metric: str) -> None:
    from ncodec.container import Container
    from ncodec.eval.sweep import read_results

    curves: dict[str, list[tuple[float, float]]] = {}
    for r in read_results(anchors / "results.jsonl"):
        if "error" not in r and "nerv" not in r["codec"]:
            curves.setdefault(r["codec"], []).append((r["bpp"], r[metric]))
    names = [c for c in ("h264", "h264:tune=psnr", "h265", "h265:tune=psnr", "av1") if c in curves]
    print("| stream | bpp | Y-PSNR (dB) | " + " | ".join(f"x {n}" for n in names) + " |")
    print("|---|---:|---:|" + "---:|" * len(names))
    for p in paths:
        data = p.read_bytes()
        c = Container.from_bytes(data)
        t, h, w = c.media["shape"]
        bpp, psnr = 8 * len(data) / (t * h * w), float(c.params["fit"]["y_psnr"])
        ratios = [bpp / rate_at(curves[n], psnr) for n in names]
        print(f"| {p.name} | {bpp:.5f} | {psnr:.2f} | " + " | ".join(f"{x:.3f}x" for x in ratios) + " |")


if __name__ == "__main__":
    main()
