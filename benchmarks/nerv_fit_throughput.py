"""Fitting throughput of a NeRV-family model by batch size and memory layout (frames/s of training).

Times ``--steps`` training steps (forward, the fit's distortion, backward, Adam; after warm-up
steps) of the model that ``configure`` builds for a clip at a target rate, for each batch size
in the contiguous (NCHW) and channels-last layouts, alternating, in one process, and prints
frames/s and the ratio to the first row (the anchor: batch 1, contiguous)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nerv_fit_throughput.py --frames 300 --batches 1,2,4

``--smoke``: a few small frames of the bundled sample, batches 1 and 2, two steps each (for tests).
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    from ncodec.media_io import read_video
    from ncodec.codecs.video.config import configure
    from ncodec.codecs.video.fitting import build_model, distortion

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="../shared/data/video/basketball_426x240.mp4")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--arch", default="hnerv", choices=["nerv", "hnerv"])
    ap.add_argument("--batches", default="1,2,4")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="a tiny clip of the bundled sample, two steps (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        from nerv_checkpoint import SMOKE_BPP, tiny_clip

        video, args.bpp, args.batches, args.steps = tiny_clip(), SMOKE_BPP, "1,2", 2
    else:
        video = read_video(args.clip, max_frames=args.frames, max_side=args.max_side)
    yuv = video.to_yuv420()
    t, h, w = yuv.planes[0].shape
    cfg = configure(args.arch, t, h, w, args.bpp * t * h * w)
    print(f"{args.arch} {w}x{h}, {t} frames, {cfg.param_count():,} parameters, {args.threads} thread(s)")
    print("| batch | layout | frames/s | x anchor |")
    print("|---:|---|---:|---:|")
    anchor = None
    for b in (int(x) for x in args.batches.split(",")):
        for layout in (torch.contiguous_format, torch.channels_last):
            torch.manual_seed(0)
            model = build_model(cfg).to(memory_format=layout)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            y = torch.rand(b, 1, h, w)
            uv = torch.rand(b, 2, (h + 1) // 2, (w + 1) // 2)
            x = (torch.rand(b, 3, *cfg.padded).contiguous(memory_format=layout) if args.arch == "hnerv"
                 else torch.arange(b))

            def step() -> None:
                out = model.decoder(model.embed(x)) if args.arch == "hnerv" else model(x)
                loss = distortion(out, y, uv)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            for _ in range(3):
                step()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            fps = args.steps * b / (time.perf_counter() - start)
            anchor = anchor or fps
            name = "channels-last" if layout == torch.channels_last else "contiguous"
            print(f"| {b} | {name} | {fps:.1f} | {fps / anchor:.2f} |", flush=True)


if __name__ == "__main__":
    main()
