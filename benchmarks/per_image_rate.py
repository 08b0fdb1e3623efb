"""Per-image rate and PSNR of two learned image weights files at one quality, side by side.

Catches what mean curves and validation crops hide: a model that codes most images well at a
quality but a few at several times the bits (session 8: phases 2-3 of the checkerboard took
3.3x phase 1's bytes on kodim09 at q = 0). Rates are the model's own estimate (``estimate_bits``,
within 1 % + 64 bytes of the real file, see BENCHMARKS.md); images whose rate ratio exceeds
``--flag`` are marked::

    .venv/bin/python benchmarks/per_image_rate.py ncodec/weights/checkerboard.safetensors NEW.safetensors \\
        --images ../shared/data/images/kodak --quality 0

``--smoke``: the shipped weights of ``--arch`` against themselves on the bundled sample image (for tests).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch


def main() -> None:
    from transform_ceiling import load_image, shipped_weights

    from ncodec.codecs.image.codec import load_model
    from ncodec.datasets.collection import EXTENSIONS
    from ncodec.quiet import silence_known_warnings

    silence_known_warnings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference", type=Path, nargs="?")
    ap.add_argument("candidate", type=Path, nargs="?")
    ap.add_argument("--arch", default="checkerboard")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--quality", type=float, default=0.0)
    ap.add_argument("--flag", type=float, default=1.2, help="mark images whose rate ratio exceeds this")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="shipped weights, bundled sample image (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        from ncodec.datasets.samples import SAMPLES_DIR, sample_path

        args.reference = args.candidate = shipped_weights(args.arch)
        args.images, files = SAMPLES_DIR, [sample_path("image")]
    elif args.reference is None or args.candidate is None or args.images is None:
        ap.error("need two weights files and --images (or --smoke)")
    else:
        files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS["image"])
    models = [load_model(args.arch, w).eval() for w in (args.reference, args.candidate)]
    print(f"{args.images}, q = {args.quality:g}: {args.reference.name} vs {args.candidate.name}")
    print("| image | reference bpp | PSNR | candidate bpp | PSNR | rate ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios, flagged = [], 0
    for f in files:
        x, xp = load_image(f)
        h, w = x.shape[-2:]
        row = []
        with torch.no_grad():
            for m in models:
                bits = float(m.estimate_bits(xp, args.quality))
                x_hat = m(xp, args.quality)["x_hat"].clamp(0, 1)[..., :h, :w]
                mse = float(((torch.round(x_hat * 255) - torch.round(x * 255)) ** 2).mean())
                row.append((bits / (h * w), 10 * math.log10(255 ** 2 / max(mse, 1e-10))))
        ratio = row[1][0] / row[0][0]
        ratios.append(ratio)
        mark = " **" if ratio > args.flag else ""
        flagged += ratio > args.flag
        print(f"| {f.name} | {row[0][0]:.4f} | {row[0][1]:.2f} | {row[1][0]:.4f} | {row[1][1]:.2f} | {ratio:.2f}x{mark} |")
    print(f"\nrate ratio: median {sorted(ratios)[len(ratios) // 2]:.2f}x, max {max(ratios):.2f}x; "
          f"{flagged} of {len(files)} images above {args.flag:g}x")


if __name__ == "__main__":
    main()
