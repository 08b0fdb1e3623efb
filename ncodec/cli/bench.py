"""``ncodec bench``: RD sweeps over a dataset, with reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ncodec.errors import NcodecError


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="rate-distortion sweep of codecs over a dataset, with report and plots")
    b.add_argument("--codecs", help="comma-separated codecs, options as name:key=value (e.g. h264:tune=psnr)")
    b.add_argument("--data", type=Path, nargs="+", help="dataset files or directories")
    b.add_argument("--metrics", default=None, help="comma-separated metrics (default depends on the medium)")
    b.add_argument("--anchor", default=None, help="codec the BD-rates are measured against (default: first)")
    b.add_argument("--out", type=Path, help="output directory (results.jsonl, report.md, plots)")
    b.add_argument("--qualities", default="auto", help="'auto' or comma-separated values for every codec")
    b.add_argument("--points", type=int, default=6, help="quality points per codec with --qualities auto")
    b.add_argument("--target-rates", default=None,
                   help="comma-separated target bpp for codecs whose knob is a target rate (NeRV family), "
                        "instead of --qualities auto for them (each point is a network fit)")
    b.add_argument("--rate-range", default=None, help="LO,HI target rates for auto (bpp, or kbit/s for audio)")
    b.add_argument("--jobs", type=int, default=1, help="parallel worker processes (local backend)")
    b.add_argument("--backend", choices=["local", "ray"], default="local")
    b.add_argument("--max-frames", type=int, default=None, help="video: first N frames of each clip")
    b.add_argument("--max-side", type=int, default=None, help="video: downscale to this long side")
    b.add_argument("--sample-rate", type=int, default=None, help="audio: resample items to this rate")
    b.add_argument("--mono", action="store_true", help="audio: mix items to mono")
    b.add_argument("--limit", type=int, default=None, help="use only the first N items")
    b.add_argument("--lpips-weights", default=None, help="path of torchvision's alexnet-owt-7be5be79.pth")
    b.add_argument("--title", default=None, help="title for the report")
    b.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="only rebuild DIR's report from its results (no coding)")
    b.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> None:
    from ncodec.codecs import codec_class
    from ncodec.datasets.collection import LoadOptions, list_media, load_item
    from ncodec.eval.measure import check_metrics
    from ncodec.eval.qualities import auto_qualities, parse_qualities
    from ncodec.eval.report import build_report
    from ncodec.eval.sweep import CodecSpec, SweepPlan, run_sweep

    if args.report is not None:
        summary = build_report(args.report, args.anchor)
        print(f"report: {args.report / 'report.md'} ({summary['records']} points, {summary['items']} items)")
        return
    if not args.codecs or not args.data or not args.out:
        raise NcodecError("bench needs --codecs, --data and --out (or --report DIR)")
    specs = [CodecSpec.parse(c) for c in args.codecs.split(",") if c.strip()]
    kinds = {codec_class(s.name).kind for s in specs}
    if len(kinds) != 1:
        raise NcodecError(f"all codecs of one sweep must code the same medium, got {', '.join(sorted(kinds))}")
    kind = kinds.pop()
    metrics = check_metrics(kind, args.metrics.split(",") if args.metrics else None)
    anchor = args.anchor or specs[0].label
    if anchor not in [s.label for s in specs]:
        raise NcodecError(f"anchor {anchor!r} is not among --codecs")
    load = LoadOptions(args.max_frames, args.max_side, args.sample_rate, args.mono)
    dataset = list_media(args.data, kind, args.limit)
    for path, why in dataset.skipped:
        print(f"skipped {path}: {why}")

    args.out.mkdir(parents=True, exist_ok=True)
    old = json.loads((args.out / "config.json").read_text()) if (args.out / "config.json").exists() else {}
    known = old.get("qualities", {})
    qualities: dict[str, list[float]] = {}
    if args.qualities != "auto":
        values = parse_qualities(args.qualities)
        for s in specs:  # each codec keeps the values inside its own range
            lo, hi = codec_class(s.name).quality_range
            qualities[s.label] = [q for q in values if lo <= q <= hi]
            dropped = [q for q in values if not lo <= q <= hi]
            if dropped:
                print(f"{s.label}: quality {', '.join(f'{q:g}' for q in dropped)} outside {lo:g}..{hi:g}, skipped")
            if not qualities[s.label]:
                raise NcodecError(f"no requested quality is inside {s.label}'s range {lo:g}..{hi:g}")
    else:
        missing = [s for s in specs if s.label not in known
                   and not (args.target_rates and codec_class(s.name).rate_is_target)]
        # probe items spread over the dataset (first, last and between), at most four
        n = len(dataset.files)
        picks = sorted({round(i * (n - 1) / 3) for i in range(4)}) if n > 1 else [0]
        probes = [load_item(dataset.files[i], kind, load) for i in picks] if missing else []
        if kind == "video":  # probing needs rates, not every frame
            import ncodec

            probes = [ncodec.Video(tuple(pl[:16] for pl in v.planes), v.fps, v.pix_fmt, v.color_space) for v in probes]
        rr = tuple(float(x) for x in args.rate_range.split(",")) if args.rate_range else None
        targets = parse_qualities(args.target_rates) if args.target_rates else None
        for s in specs:
            if s.label in known:
                qualities[s.label] = known[s.label]
            elif targets is not None and codec_class(s.name).rate_is_target:
                qualities[s.label] = sorted(targets)
                print(f"{s.label}: target rates {', '.join(f'{q:g}' for q in qualities[s.label])}")
            else:
                qualities[s.label] = auto_qualities(s.make(), probes, points=args.points, rate_range=rr)
                print(f"{s.label}: qualities {', '.join(f'{q:g}' for q in qualities[s.label])}")
    plan = SweepPlan(dataset, specs, qualities, metrics, load, args.lpips_weights)
    config_extra = {"anchor": anchor, "title": args.title or ", ".join(str(p) for p in args.data)}
    records = run_sweep(plan, args.out, jobs=args.jobs, backend=args.backend, progress=not args.no_progress)
    cfg_path = args.out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(config_extra)
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True))
    summary = build_report(args.out, anchor)
    print(f"{len(records)} results; report: {args.out / 'report.md'}; plots: "
          + ", ".join(str(args.out / f[0]) for f in summary["plots"].values()))
    for codec, row in sorted(summary["bd_rate"].items()):
        if codec != anchor:
            vals = ", ".join(f"{m} {row[m]['mean_curve']:+.1f} %" for m in metrics if row[m]["mean_curve"] is not None)
            print(f"  BD-rate {codec} vs {anchor}: {vals}")
