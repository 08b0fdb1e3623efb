"""``ncodec train image|audio``: train (or resume) a learned codec; ``ncodec train export``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a learned codec (resumes when RUN_DIR has a checkpoint)")
    media = t.add_subparsers(dest="medium", required=True, metavar="MEDIUM")
    i = media.add_parser("image", help="learned image codec")
    i.add_argument("--arch", default="checkerboard",
                   choices=["factorized", "scale-hyperprior", "mean-scale-hyperprior", "checkerboard", "wavelet"])
    i.add_argument("--data", nargs="+", required=True, help="training image folders (never Kodak)")
    i.add_argument("--val-data", nargs="*", default=[], help="held-aside validation images")
    i.add_argument("--steps", type=int, default=100_000)
    i.add_argument("--batch", type=int, default=8)
    i.add_argument("--crop", type=int, default=128)
    i.add_argument("--lr", type=float, default=5e-4)
    i.add_argument("--N", type=int, default=None, help="hyper-latent channels (default 128; wavelet 32)")
    i.add_argument("--M", type=int, default=None, help="latent channels (default 192; wavelet 12)")
    i.add_argument("--C", type=int, default=96, help="wavelet: the transforms' width")
    i.add_argument("--levels", type=int, default=2, help="wavelet: 2-D packet levels (latents at 1/2^(levels+1))")
    _common(i)
    i.add_argument("--revive-dead", action="store_true",
                   help="with --init: reset latent channels whose gain collapsed (checkerboard; measured on the "
                        "shipped model: the revived channels collapsed again within 4,000 steps)")
    i.add_argument("--downscale", type=float, default=1.0, metavar="F",
                   help="shrink training images by F first (2 undoes 4:2:0 JPEG chroma and softness)")
    a = media.add_parser("audio", help="learned audio codec")
    a.add_argument("--arch", default="wavelet", choices=["wavelet", "rvq"])
    a.add_argument("--data", nargs="+", required=True,
                   help="training audio folders (never the dev sets); their held-out speakers validate")
    a.add_argument("--val-data", nargs="*", default=[], help="validation audio instead of the held-out speakers")
    a.add_argument("--steps", type=int, default=100_000)
    a.add_argument("--batch", type=int, default=16)
    a.add_argument("--crop-seconds", type=float, default=1.0)
    a.add_argument("--sample-rate", type=int, default=16_000)
    a.add_argument("--lr", type=float, default=5e-4)
    a.add_argument("--C", type=int, default=96, help="transform width")
    a.add_argument("--M", type=int, default=32, help="wavelet: latent channels")
    a.add_argument("--N", type=int, default=32, help="wavelet: hyper-latent channels")
    a.add_argument("--D", type=int, default=48, help="rvq: token-frame dimension")
    a.add_argument("--codebooks", type=int, default=32, help="rvq: residual codebooks")
    a.add_argument("--levels", type=int, default=4, help="wavelet-packet levels (2^levels bands; 5 for 44.1 kHz)")
    a.add_argument("--lambdas", default="", metavar="L1,L2,...",
                   help="wavelet: the gain levels' Lagrangians, ascending (default: the speech model's)")
    a.add_argument("--channels", default="mono", choices=["mono", "mid-side"],
                   help="training clips: mono mixes, or each stereo file's mid and side (for stereo codecs)")
    a.add_argument("--waveform-weight", type=float, default=1.0, help="weight of the waveform term in D")
    _common(a)
    x = media.add_parser("export", help="write a training run's current model as a weights file")
    x.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    x.add_argument("output", type=Path, metavar="OUT.safetensors")
    x.add_argument("--fp16", action="store_true", help="store floating-point tensors as float16")
    x.add_argument("--base", type=Path, default=None, metavar="BASE.safetensors",
                   help="leave out tensors equal to this file's (it must sit next to OUT)")


def _common(p) -> None:
    """The options every medium's training shares (:class:`ncodec.codecs.training.LoopConfig`)."""
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="keep fp16 weights every N steps in RUN_DIR/snapshots (training-time curves)")
    p.add_argument("--init", default="", metavar="WEIGHTS|RUN_DIR",
                   help="start a new run from these weights (tensors with matching names and shapes)")
    p.add_argument("--freeze", default="", metavar="PREFIXES",
                   help="comma-separated parameter-name prefixes kept fixed, e.g. g_a,g_s,gain")
    p.add_argument("--q-power", type=float, default=1.0, metavar="P",
                   help="draw training qualities as u**P, u uniform (1 = uniform; 0.5 trains high rates more)")
    p.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    p.add_argument("--no-progress", action="store_true")


def _loop_options(args: argparse.Namespace) -> dict:
    return dict(arch=args.arch, data=[str(d) for d in args.data], val_data=[str(d) for d in args.val_data],
                steps=args.steps, batch=args.batch, lr=args.lr, device=args.device, threads=args.threads,
                checkpoint_minutes=args.checkpoint_minutes, val_every=args.val_every, seed=args.seed,
                snapshot_every=args.snapshot_every, init=args.init,
                freeze=[p for p in args.freeze.split(",") if p], q_power=args.q_power)


def _export(args: argparse.Namespace) -> None:
    import json

    import torch

    from ncodec.errors import NcodecError

    cfg_path = args.run_dir / "config.json"
    if not cfg_path.is_file():
        raise NcodecError(f"{args.run_dir} has no config.json: not a training run")
    try:
        cfg = json.loads(cfg_path.read_text())
        audio = "crop_seconds" in cfg  # an audio run's config (both families have a "wavelet" arch)
    except (ValueError, TypeError):
        raise NcodecError(f"{cfg_path} is not a training run's config") from None
    if audio:
        from ncodec.codecs.audio.training import export_weights
    else:
        from ncodec.codecs.image.training import export_weights
    info = export_weights(args.run_dir, args.output, torch.float16 if args.fp16 else None, args.base)
    p = info["provenance"]
    shared = f", {info['shared_with_base']} tensors from {args.base.name}" if args.base else ""
    print(f"{args.output}: {info['config']['arch']} at step {p['step']} ({p['hours']} h), {p['dtype']}{shared}")


def _lambdas(text: str) -> tuple[float, ...]:
    from ncodec.errors import NcodecError

    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise NcodecError(f"--lambdas {text!r}: expected comma-separated numbers") from None
    if values and (len(values) < 2 or any(v <= 0 for v in values) or list(values) != sorted(values)):
        raise NcodecError(f"--lambdas {text!r}: expected two or more positive numbers, ascending")
    return values


def run(args: argparse.Namespace) -> None:
    if args.medium == "export":
        _export(args)
        return
    if args.medium == "audio":
        from ncodec.codecs.audio.training import AudioTrainConfig, train

        cfg = AudioTrainConfig(**_loop_options(args), crop_seconds=args.crop_seconds, sample_rate=args.sample_rate,
                               C=args.C, M=args.M, N=args.N, D=args.D, codebooks=args.codebooks,
                               waveform_weight=args.waveform_weight, levels=args.levels,
                               lambdas=_lambdas(args.lambdas), channels=args.channels)
    else:
        from ncodec.codecs.image.training import TrainConfig, train

        small = args.arch == "wavelet"
        cfg = TrainConfig(**_loop_options(args), crop=args.crop, N=args.N or (32 if small else 128),
                          M=args.M or (12 if small else 192), C=args.C, levels=args.levels,
                          revive_dead=args.revive_dead, downscale=args.downscale)
    result = train(cfg, args.out, progress=not args.no_progress)
    print(f"{args.out}: step {result['step']}, {result['seconds'] / 3600:.2f} h of training")
