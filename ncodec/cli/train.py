"""``ncodec train image``: train (or resume) a learned image codec."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a learned codec (resumes when RUN_DIR has a checkpoint)")
    media = t.add_subparsers(dest="medium", required=True, metavar="MEDIUM")
    i = media.add_parser("image", help="learned image codec")
    i.add_argument("--arch", default="checkerboard",
                   choices=["factorized", "scale-hyperprior", "mean-scale-hyperprior", "checkerboard"])
    i.add_argument("--data", nargs="+", required=True, help="training image folders (never Kodak)")
    i.add_argument("--val-data", nargs="*", default=[], help="held-aside validation images")
    i.add_argument("--steps", type=int, default=100_000)
    i.add_argument("--batch", type=int, default=8)
    i.add_argument("--crop", type=int, default=128)
    i.add_argument("--lr", type=float, default=5e-4)
    i.add_argument("--N", type=int, default=128)
    i.add_argument("--M", type=int, default=192)
    i.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    i.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    i.add_argument("--checkpoint-minutes", type=float, default=5.0)
    i.add_argument("--val-every", type=int, default=500)
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--snapshot-every", type=int, default=0,
                   help="keep fp16 weights every N steps in RUN_DIR/snapshots (training-time curves)")
    i.add_argument("--init", default="", metavar="WEIGHTS|RUN_DIR",
                   help="start a new run from these weights (tensors with matching names and shapes)")
    i.add_argument("--freeze", default="", metavar="PREFIXES",
                   help="comma-separated parameter-name prefixes kept fixed, e.g. g_a,g_s,gain")
    i.add_argument("--q-power", type=float, default=1.0, metavar="P",
                   help="draw training qualities as u**P, u uniform (1 = uniform; 0.5 trains high rates more)")
    i.add_argument("--revive-dead", action="store_true",
                   help="with --init: reset latent channels whose gain collapsed (checkerboard; measured on the "
                        "shipped model: the revived channels collapsed again within 4,000 steps)")
    i.add_argument("--downscale", type=float, default=1.0, metavar="F",
                   help="shrink training images by F first (2 undoes 4:2:0 JPEG chroma and softness)")
    i.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    i.add_argument("--no-progress", action="store_true")
    x = media.add_parser("export", help="write a training run's current model as a weights file")
    x.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    x.add_argument("output", type=Path, metavar="OUT.safetensors")
    x.add_argument("--fp16", action="store_true", help="store floating-point tensors as float16")
    x.add_argument("--base", type=Path, default=None, metavar="BASE.safetensors",
                   help="leave out tensors equal to this file's (it must sit next to OUT)")


def run(args: argparse.Namespace) -> None:
    if args.medium == "export":
        import torch

        from ncodec.codecs.image.training import export_weights

        info = export_weights(args.run_dir, args.output, torch.float16 if args.fp16 else None, args.base)
        p = info["provenance"]
        shared = f", {info['shared_with_base']} tensors from {args.base.name}" if args.base else ""
        print(f"{args.output}: {info['config']['arch']} at step {p['step']} ({p['hours']} h), {p['dtype']}{shared}")
        return
    from ncodec.codecs.image.training import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, data=[str(d) for d in args.data], val_data=[str(d) for d in args.val_data],
                      steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr, N=args.N, M=args.M,
                      device=args.device, threads=args.threads, checkpoint_minutes=args.checkpoint_minutes,
                      val_every=args.val_every, seed=args.seed, snapshot_every=args.snapshot_every,
                      init=args.init, freeze=[p for p in args.freeze.split(",") if p], q_power=args.q_power,
                      revive_dead=args.revive_dead, downscale=args.downscale)
    result = train(cfg, args.out, progress=not args.no_progress)
    print(f"{args.out}: step {result['step']}, {result['seconds'] / 3600:.2f} h of training")
