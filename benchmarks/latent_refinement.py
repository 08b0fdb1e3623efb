"""Gain and cost of ``--refine-steps`` (encoder-side latent refinement) for a learned image codec.

For each image and quality, encode with 0 and with N refinement steps (same weights), decode,
and report bpp (real file size), PSNR, encode seconds; then the BD-rate of refined vs plain
(negative = refinement saves bits) and the encode-time ratio. Decode time is unchanged by
construction (same decoder, same stream format).

    .venv/bin/python benchmarks/latent_refinement.py --weights W.safetensors --arch checkerboard \
        --images ../shared/data/images/kodak --limit 4 --steps 50

``--weights`` defaults to the shipped weights of ``--arch``. ``--smoke``: the bundled sample image,
2 refinement steps (for tests).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from ncodec.codecs import get
    from ncodec.media_io import read_image
    from ncodec.eval.bjontegaard import bd_rate
    from ncodec.eval.metrics import psnr

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=None, help="default: the shipped weights")
    ap.add_argument("--arch", default="checkerboard")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--qualities", default="0.2,0.5,0.8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="the bundled sample image, 2 steps (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        from ncodec.datasets.samples import SAMPLES_DIR, sample_path

        args.images, args.steps, files = SAMPLES_DIR, 2, [sample_path("image")]
    elif args.images is None:
        ap.error("need --images (or --smoke)")
    else:
        files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".png", ".jpg", ".ppm"))[: args.limit]
    qs = [float(q) for q in args.qualities.split(",")]
    rows: dict[int, dict[float, list[tuple[float, float, float]]]] = {0: {}, args.steps: {}}
    for steps in rows:
        codec = get(args.arch, refine_steps=steps, **({"weights": args.weights} if args.weights else {}))
        for q in qs:
            for f in files:
                img = read_image(f)
                t = time.perf_counter()
                data = codec.encode(img, q)
                sec = time.perf_counter() - t
                out = codec.decode(data)
                bpp = 8.0 * len(data) / (img.height * img.width)
                rows[steps].setdefault(q, []).append((bpp, psnr(img, out), sec))
    print(f"{args.arch}, {len(files)} images of {args.images}, {args.threads} thread(s); means per quality")
    print("| refine steps | q | bpp | PSNR (dB) | encode s | encode time vs 0 steps |")
    print("|---:|---:|---:|---:|---:|---:|")
    curves = {}
    for steps, per_q in rows.items():
        pts = []
        for q in qs:
            a = np.array(per_q[q])
            base = np.mean([r[2] for r in rows[0][q]])
            print(f"| {steps} | {q:g} | {a[:, 0].mean():.4f} | {a[:, 1].mean():.2f} | {a[:, 2].mean():.2f} "
                  f"| {a[:, 2].mean() / base:.1f}x |")
            pts.append((a[:, 0].mean(), a[:, 1].mean()))
        curves[steps] = pts
    r0, m0 = zip(*curves[0])
    r1, m1 = zip(*curves[args.steps])
    try:
        bd = bd_rate(r0, m0, r1, m1)
        print(f"\nBD-rate (PSNR) of {args.steps} refinement steps vs none: {bd:+.2f} %")
    except Exception as exc:  # noqa: BLE001 - curves may not overlap at all
        print(f"\nBD-rate not computable: {exc}")
    d_psnr = [b - a for (_, a), (_, b) in zip(curves[0], curves[args.steps])]
    print("PSNR change per quality: " + ", ".join(f"{d:+.2f} dB" for d in d_psnr if math.isfinite(d)))


if __name__ == "__main__":
    main()
