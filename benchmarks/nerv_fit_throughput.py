"""Fitting throughput of a NeRV-family model per batch size: frames per second of training.

Times ``--steps`` optimizer steps (after a few warm-up steps) of the model that ``configure``
builds for a clip at a target rate, for each batch size, in one process and thread setting, and
prints frames/s and the ratio to the first batch size (the anchor)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nerv_fit_throughput.py --batches 1,2,4
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    from ncodec.datasets.io import read_video
    from ncodec.inr.config import configure
    from ncodec.inr.fitting import FitOptions, fit

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="../shared/data/video/basketball_426x240.mp4")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--arch", default="hnerv")
    ap.add_argument("--batches", default="1,2,4")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    yuv = read_video(args.clip, max_frames=args.frames, max_side=args.max_side).to_yuv420()
    t, h, w = yuv.planes[0].shape
    cfg = configure(args.arch, t, h, w, args.bpp * t * h * w)
    print(f"{args.arch} {w}x{h}, {t} frames, {cfg.param_count():,} parameters, {args.threads} thread(s)")
    print("| batch | frames/s | x batch %s |" % args.batches.split(",")[0])
    print("|---:|---:|---:|")
    anchor = None
    for b in (int(x) for x in args.batches.split(",")):
        marks: list[float] = []
        warm = 5
        total = warm + args.steps
        epochs = -(-total * b // t)
        fit(yuv.planes, cfg, FitOptions(epochs=epochs, batch=b, reseeds=0), progress=False,
            on_step=lambda s: marks.append(time.perf_counter()) if s in (warm, total) else None)
        fps = args.steps * b / (marks[1] - marks[0])
        anchor = anchor or fps
        print(f"| {b} | {fps:.1f} | {fps / anchor:.2f} |", flush=True)


if __name__ == "__main__":
    main()
