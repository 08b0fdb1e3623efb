"""HNeRV on one dev clip at a target rate, for given numbers of epochs or codec options.

Prints per fit: bpp, Y-PSNR, seconds, parameter count and coded bits per weight. Used for the
epochs and option comparisons in BENCHMARKS.md (issue 6)::

    .venv/bin/python benchmarks/nerv_epochs.py --epochs 150,300
    .venv/bin/python benchmarks/nerv_epochs.py --epochs 150 --variants weight_bits=8 weight_bits=6

``--smoke``: 1 and 2 epochs on a few small frames of the bundled sample (for tests).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch


def main() -> None:
    from ncodec.codecs import get
    from ncodec.container import Container
    from ncodec.media_io import read_video

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="../shared/data/video/basketball_426x240.mp4")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--epochs", default="300")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--codec", default="hnerv")
    ap.add_argument("--workdir", default=None, metavar="DIR",
                    help="fit in DIR/<variant>-<epochs>/ (resumable; keeps the fit's trace.csv)")
    ap.add_argument("--save", default=None, metavar="DIR", help="keep each stream as DIR/<variant>-<epochs>.ncd")
    ap.add_argument("--variants", nargs="*", default=[""],
                    help="codec options per fit, key=value[:key=value...] (as after -c NAME:)")
    ap.add_argument("--smoke", action="store_true", help="tiny fits of the bundled sample (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the fit's collapse checks
    if args.smoke:
        from nerv_checkpoint import SMOKE_BPP, tiny_clip

        video, args.bpp, args.epochs, args.variants = tiny_clip(), SMOKE_BPP, "1,2", ["", "weight_bits=8:reseeds=0"]
    else:
        video = read_video(args.clip, max_frames=args.frames, max_side=args.max_side)
    for variant in args.variants:
        opts = dict(kv.split("=", 1) for kv in variant.split(":") if kv)
        for epochs in (int(e) for e in args.epochs.split(",")):
            t = time.perf_counter()
            name = f"{variant.replace(':', '_') or 'default'}-{epochs}"
            if args.workdir:
                opts["workdir"] = str(Path(args.workdir) / name)
            data = get(args.codec, epochs=epochs, **opts).encode(video, args.bpp)
            seconds = time.perf_counter() - t
            if args.save:
                out = Path(args.save) / f"{name}.ncd"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
            c = Container.from_bytes(data)
            fit = c.params["fit"]
            wbytes = len(c.chunks["weights"])
            print(json.dumps({"variant": variant, "epochs": epochs, "bpp": round(8 * len(data) / video.num_pixels, 5),
                              "y_psnr": fit["y_psnr"], "seed": fit.get("seed"), "seconds": round(seconds, 1),
                              "weights": c.params["weights_count"], "weight_bytes": wbytes,
                              "bits_per_weight": round(8 * wbytes / c.params["weights_count"], 3),
                              "embedding_bytes": len(c.chunks.get("embeddings", b""))}), flush=True)


if __name__ == "__main__":
    main()
