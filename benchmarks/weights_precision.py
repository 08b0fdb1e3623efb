"""What storing a learned image codec's weights in fp16 costs: fp32 vs fp16 exports of one checkpoint.

The brief ships weights in fp16 only where that costs < 0.1 dB. Both files are evaluated on the
same images and qualities (model likelihoods for the rate, rounded-latent reconstructions for
PSNR, as in ``training_curve.py``); the table gives bpp and PSNR per quality and the BD-PSNR of
fp16 against fp32.

    ncodec train export RUN_DIR /tmp/w32.safetensors
    ncodec train export RUN_DIR /tmp/w16.safetensors --fp16
    .venv/bin/python benchmarks/weights_precision.py /tmp/w32.safetensors /tmp/w16.safetensors \
        --images ../shared/data/images/kodak

``--smoke``: fp32 and fp16 copies of the shipped ``factorized`` weights on the bundled sample image (for tests).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from training_curve import evaluate, shipped_copy


def main() -> None:
    from ncodec.media_io import read_image
    from ncodec.eval.bjontegaard import bd_metric

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fp32", type=Path, nargs="?")
    ap.add_argument("fp16", type=Path, nargs="?")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--qualities", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="copies of the shipped weights, the bundled image (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        from nerv_checkpoint import smoke_dir

        from ncodec.datasets.samples import SAMPLES_DIR, sample_path

        work = smoke_dir()
        args.fp32 = shipped_copy("factorized", work / "fp32.safetensors")
        args.fp16 = shipped_copy("factorized", work / "fp16.safetensors", dtype=torch.float16)
        args.images, files = SAMPLES_DIR, [sample_path("image")]
    elif args.fp32 is None or args.fp16 is None or args.images is None:
        ap.error("need two weights files and --images (or --smoke)")
    else:
        files = sorted(p for p in args.images.iterdir() if p.suffix.lower() == ".png")[: args.limit]
    images = [torch.tensor(read_image(f).pixels).permute(2, 0, 1)[None].float() / 255 for f in files]
    qs = [float(q) for q in args.qualities.split(",")]
    a, b = evaluate(args.fp32, images, qs), evaluate(args.fp16, images, qs)
    print(f"{len(files)} images of {args.images}; {args.fp32.name} ({args.fp32.stat().st_size / 1e6:.1f} MB) "
          f"vs {args.fp16.name} ({args.fp16.stat().st_size / 1e6:.1f} MB)\n")
    print("| q | fp32 bpp | fp32 PSNR | fp16 bpp | fp16 PSNR | PSNR change |")
    print("|---:|---:|---:|---:|---:|---:|")
    for q, (r32, p32), (r16, p16) in zip(qs, a, b):
        print(f"| {q:g} | {r32:.4f} | {p32:.3f} | {r16:.4f} | {p16:.3f} | {p16 - p32:+.3f} dB |")
    bd = bd_metric([p[0] for p in a], [p[1] for p in a], [p[0] for p in b], [p[1] for p in b])
    print(f"\nBD-PSNR of fp16 vs fp32: {bd:+.3f} dB ({'within' if abs(bd) < 0.1 else 'OUTSIDE'} the 0.1 dB budget)")


if __name__ == "__main__":
    main()
