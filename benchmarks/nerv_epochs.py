"""HNeRV on one dev clip at a target rate for given numbers of epochs: bpp, Y-PSNR, seconds.

Used for the epochs comparison in BENCHMARKS.md (issue 6)::

    .venv/bin/python benchmarks/nerv_epochs.py --epochs 150,300
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    from ncodec.codecs import get
    from ncodec.container import Container
    from ncodec.datasets.io import read_video

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="../shared/data/video/basketball_426x240.mp4")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--epochs", default="300")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    video = read_video(args.clip, max_frames=args.frames, max_side=args.max_side)
    for epochs in (int(e) for e in args.epochs.split(",")):
        t = time.perf_counter()
        data = get("hnerv", epochs=epochs).encode(video, args.bpp)
        seconds = time.perf_counter() - t
        fit = Container.from_bytes(data).params["fit"]
        print(json.dumps({"epochs": epochs, "bpp": 8 * len(data) / video.num_pixels, "y_psnr": fit["y_psnr"],
                          "seconds": round(seconds, 1)}), flush=True)


if __name__ == "__main__":
    main()
