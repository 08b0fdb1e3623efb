"""Training-time curve of a learned image codec: Kodak PSNR at a fixed rate vs hours of training.

Evaluates every snapshot in ``RUN_DIR/snapshots`` (written by ``ncodec train image
--snapshot-every N``) on Kodak at a few qualities, interpolates PSNR at ``--bpp`` (log-rate,
PCHIP), and prints a table with the classical anchors' PSNR at the same rate taken from a
committed ``ncodec bench`` sweep (same images), the gap to each, and a projection of the hours
needed to reach AVIF from a fit ``PSNR = a + b log(hours)`` over the snapshots. Rates are the
model's own likelihoods (the coded files are within 1 % of them, see tests); PSNR is measured on
the model's rounded-latent reconstruction, which is what the decoder produces. Each snapshot's
evaluation is cached next to it (``step-N.eval.json``), so re-running only evaluates new ones.

    .venv/bin/python benchmarks/training_curve.py /work/runs/image-checkerboard \
        --kodak ../shared/data/images/kodak --anchors benchmarks/results/kodak --plot docs/benchmarks/training_curve.png

``--smoke``: three snapshots copied from the shipped ``factorized`` weights, on the bundled sample
image, plotted into a temporary folder (for tests).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def psnr_at(points: list[tuple[float, float]], bpp: float) -> float:
    from scipy.interpolate import PchipInterpolator

    pts = sorted(points)
    x = np.log([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    if not (x[0] <= math.log(bpp) <= x[-1]):
        return math.nan
    return float(PchipInterpolator(x, y)(math.log(bpp)))


def evaluate(weights: Path, images: list[torch.Tensor], qualities: list[float]) -> list[tuple[float, float]]:
    from ncodec.codecs.image.base import pad_to
    from ncodec.codecs.image.codec import load_model
    from ncodec.checkpoint import load_weights

    _, meta = load_weights(weights)
    model = load_model(meta["config"]["arch"], weights).eval()
    out = []
    for q in qualities:
        bpps, mses = [], []
        for x in images:
            h, w = x.shape[-2:]
            with torch.no_grad():
                r = model(pad_to(x, model.stride), q)
            bits = sum(float(-torch.log2(lik).sum()) for lik in r["likelihoods"].values())
            x_hat = torch.round(r["x_hat"][..., :h, :w].clamp(0, 1) * 255) / 255
            bpps.append(bits / (h * w))
            mses.append(float(torch.mean((x_hat - x) ** 2)))
        out.append((float(np.mean(bpps)), float(np.mean([-10 * math.log10(m) for m in mses]))))
    return out


def shipped_copy(arch: str, path: Path, dtype: torch.dtype | None = None, provenance: dict | None = None) -> Path:
    """A standalone copy of the shipped weights of ``arch`` (optionally cast, with a provenance
    record as training snapshots have), for the ``--smoke`` modes."""
    from ncodec.checkpoint import load_weights, save_weights
    from ncodec.codecs import get

    tensors, meta = load_weights(Path(get(arch).settings()["weights"]))
    save_weights(tensors, path, {"config": meta["config"], "provenance": provenance or {}}, dtype=dtype)
    return path


def smoke_run() -> Path:
    """A run folder with three snapshots (the shipped factorized weights, at made-up steps and hours)."""
    from nerv_checkpoint import smoke_dir

    run = smoke_dir()
    (run / "snapshots").mkdir()
    for step, hours in ((1000, 0.5), (2000, 1.0), (4000, 2.0)):
        shipped_copy("factorized", run / "snapshots" / f"step-{step}.safetensors",
                     provenance={"step": step, "hours": hours})
    return run


def main() -> None:
    from ncodec.checkpoint import load_weights
    from ncodec.media_io import read_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path, nargs="?")
    ap.add_argument("--kodak", type=Path)
    ap.add_argument("--anchors", type=Path, default=RESULTS / "kodak")
    ap.add_argument("--bpp", type=float, default=0.5)
    ap.add_argument("--qualities", default="0.2,0.4,0.6,0.8")
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--fit-until", type=int, default=None, metavar="STEP",
                    help="fit the log curve to snapshots up to STEP only (e.g. before a learning-rate decay "
                         "or a change of thread count); later ones are drawn apart")
    ap.add_argument("--later-label", default=None, help="legend for the snapshots after --fit-until")
    ap.add_argument("--smoke", action="store_true", help="made-up snapshots, the bundled sample image (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        from ncodec.datasets.samples import SAMPLES_DIR, sample_path

        args.run_dir, args.kodak, files = smoke_run(), SAMPLES_DIR, [sample_path("image")]
        args.plot, args.bpp = args.run_dir / "training_curve.png", 1.0  # within this image's rates
    elif args.run_dir is None or args.kodak is None:
        ap.error("need RUN_DIR and --kodak (or --smoke)")
    else:
        files = sorted(p for p in args.kodak.iterdir() if p.suffix.lower() == ".png")[: args.limit]
    images = [torch.tensor(read_image(f).pixels).permute(2, 0, 1)[None].float() / 255 for f in files]
    qs = [float(q) for q in args.qualities.split(",")]
    summary = json.loads((args.anchors / "summary.json").read_text())
    anchors = {c: psnr_at([(p["bpp"], p["psnr"]) for p in pts], args.bpp) for c, pts in summary["curves"].items()
               if c in ("jpeg", "webp", "jpeg2000", "avif")}
    rows = []
    for snap in sorted((args.run_dir / "snapshots").glob("step-*.safetensors")):
        _, meta = load_weights(snap)
        prov = meta.get("provenance", {})
        cache = snap.with_suffix(".eval.json")  # evaluations are kept next to their snapshot
        key = {"qualities": qs, "images": [f.name for f in files]}
        cached = json.loads(cache.read_text()) if cache.exists() else {}
        if cached.get("key") == key:
            pts = [tuple(p) for p in cached["points"]]
        else:
            pts = evaluate(snap, images, qs)
            cache.write_text(json.dumps({"key": key, "points": pts}))
        rows.append((prov.get("step"), prov.get("hours"), psnr_at(pts, args.bpp), pts))
    print(f"Kodak ({len(files)} images), PSNR at {args.bpp} bpp (PCHIP over q = {args.qualities})")
    print("| step | hours | PSNR @ %g bpp | vs JPEG | vs WebP | vs JPEG 2000 | vs AVIF |" % args.bpp)
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for step, hours, p, _ in rows:
        gaps = " | ".join(f"{p - anchors[c]:+.2f} dB" for c in ("jpeg", "webp", "jpeg2000", "avif"))
        print(f"| {step} | {hours:.2f} | {p:.2f} | {gaps} |")
    print("anchors: " + ", ".join(f"{c} {v:.2f} dB" for c, v in anchors.items()))
    fitted = [r for r in rows if args.fit_until is None or (r[0] is not None and r[0] <= args.fit_until)]
    later = [r for r in rows if r not in fitted]
    good = [(h, p) for _, h, p, _ in fitted if h and h > 0 and math.isfinite(p)]
    if len(good) >= 3:
        hh, pp = np.log([g[0] for g in good]), np.array([g[1] for g in good])
        b, a = np.polyfit(hh, pp, 1)
        if b > 0:
            need = math.exp((anchors["avif"] - a) / b)
            print(f"fit over {len(good)} snapshots PSNR = {a:.2f} + {b:.2f} ln(hours): "
                  f"AVIF's {anchors['avif']:.2f} dB at about {need:.0f} h")
    if args.plot and rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.plot([r[1] for r in fitted], [r[2] for r in fitted], "o-", label="checkerboard (training)")
        if later and fitted:
            ax.plot([fitted[-1][1]] + [r[1] for r in later], [fitted[-1][2]] + [r[2] for r in later], "s--", color="C0",
                    label=args.later_label or f"after step {args.fit_until:,}")
        for c, v in anchors.items():
            ax.axhline(v, ls="--", lw=1, color={"jpeg": "C3", "webp": "C2", "jpeg2000": "C4", "avif": "C1"}[c], label=c)
        ax.set_xlabel("hours of training (wall clock, this 2-core CPU)")
        ax.set_ylabel(f"Kodak PSNR at {args.bpp} bpp (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
