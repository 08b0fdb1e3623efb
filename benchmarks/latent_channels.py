"""How many latent channels a learned image codec actually uses, per quality.

A channel is *live* at quality ``q`` when at least 1 % of its rounded latents
``round(g_a(x) gain(q))`` are non-zero on an image; the table gives the mean count over the
images, and the channels that are never live on any image at any quality (*dead*: their gain
collapsed during training, so they carry no bits and no information). When nearly every live
channel is busy at the top quality, the latent width M, not the training, caps the curve::

    .venv/bin/python benchmarks/latent_channels.py ncodec/weights/checkerboard.safetensors \\
        --images ../shared/data/images/kodak --qualities 0,0.5,1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    from ncodec.codecs.image.codec import load_model
    from ncodec.datasets.collection import EXTENSIONS
    from ncodec.datasets.io import read_image
    from ncodec.quiet import silence_known_warnings

    silence_known_warnings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", nargs="+", type=Path, help="ncodec weights files")
    ap.add_argument("--arch", default="checkerboard")
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--qualities", default="0,0.5,1")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS["image"])
    files = files[: args.limit] if args.limit else files
    qualities = [float(q) for q in args.qualities.split(",")]
    print(f"{len(files)} images from {args.images}")
    print("| weights | M | q | live channels (mean over images) | busy (>= 10 % non-zero) | dead everywhere |")
    print("|---|---:|---:|---:|---:|---:|")
    for w in args.weights:
        model = load_model(args.arch, w)
        live = {q: [] for q in qualities}
        busy = {q: [] for q in qualities}
        ever = None
        for f in files:
            x = torch.tensor(read_image(f).pixels).permute(2, 0, 1)[None].float() / 255
            h, w_ = x.shape[-2:]
            x = torch.nn.functional.pad(x, (0, (-w_) % 64, 0, (-h) % 64), mode="replicate")
            with torch.no_grad():
                y = model.g_a(x)
                for q in qualities:
                    nonzero = (torch.round(y * model.gain.gain(torch.tensor([q]))) != 0).float().mean((0, 2, 3))
                    live[q].append(int((nonzero >= 0.01).sum()))
                    busy[q].append(int((nonzero >= 0.10).sum()))
                    ever = nonzero >= 0.01 if ever is None else ever | (nonzero >= 0.01)
        M = y.shape[1]
        dead = M - int(ever.sum())
        for q in qualities:
            print(f"| {w.name} | {M} | {q:g} | {sum(live[q]) / len(files):.1f} | {sum(busy[q]) / len(files):.1f} | {dead} |")


if __name__ == "__main__":
    main()
