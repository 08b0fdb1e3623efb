"""Training-time curve of a learned audio codec: speech quality at a fixed payload rate vs hours.

Evaluates every snapshot in ``RUN_DIR/snapshots`` (written by ``ncodec train audio
--snapshot-every N``) by really coding speech at a few qualities: payload kbit/s (the coded
chunks, as ``ncodec bench`` counts them), PESQ-WB, STOI and the harness's log-mel distance
after the harness's delay compensation, on 16 kHz mono copies of the files. Each metric is
interpolated at ``--kbps`` (log-rate, PCHIP) and printed beside Opus at the same payload rate,
taken from a committed ``ncodec bench`` sweep of the same files (``--anchors``). Each snapshot's
evaluation is cached next to it (``step-N.<set>.eval.json``), so re-running evaluates only new
ones; ``--plot`` draws PESQ-WB and mel distance against hours.

    .venv/bin/python benchmarks/audio_training_curve.py runs/audio-wavelet-v1 \\
        --data ../shared/data/audio/speech --anchors benchmarks/results/speech-pesq \\
        --plot benchmarks/results/audio-training/curve.png

``--held-out DIR`` evaluates the speakers of the training folder DIR that training never saw
(the fixed speaker split) instead of ``--data``. ``--smoke``: two snapshots of a random tiny
model on the bundled speech sample (for tests).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

QUALITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
METRICS = ("pesq", "stoi", "mel")


def interpolate(points: list[tuple[float, float]], x: float) -> float:
    """PCHIP in log-rate through ``(kbps, value)`` points; NaN outside their range."""
    from scipy.interpolate import PchipInterpolator

    pts = sorted((r, v) for r, v in points if r > 0 and math.isfinite(v))
    xs = np.log([p[0] for p in pts])
    if len(pts) < 2 or not xs[0] <= math.log(x) <= xs[-1] or np.any(np.diff(xs) <= 0):
        return math.nan
    return float(PchipInterpolator(xs, [p[1] for p in pts])(math.log(x)))


def load_items(files: list[Path]):
    from ncodec.media_io.audio import read_audio

    return [(f.name, read_audio(f, sample_rate=16_000, mono=True)) for f in files]


def evaluate(codec_name: str, weights: Path, items, qualities) -> dict[str, list[float]]:
    """Mean payload kbit/s and metrics over ``items`` at each quality."""
    import torch

    from ncodec.codecs.registry import get
    from ncodec.eval.audio_quality import audio_metrics

    torch.set_num_threads(1)
    codec = get(codec_name, weights=weights)
    out: dict[str, list[float]] = {"kbps": [], **{m: [] for m in METRICS}}
    for q in qualities:
        rows = []
        for _, a in items:
            c = codec.open(codec.encode(a, q))
            m = audio_metrics(a, codec.decode(c))
            rows.append({"kbps": 8 * codec.payload_bytes(c) / (a.num_samples / a.sample_rate) / 1000,
                         "pesq": m["pesq"], "stoi": m["stoi"], "mel": m["mel_distance"]})
        for k in out:
            out[k].append(float(np.nanmean([r[k] for r in rows])))
    return out


def anchor_points(anchors: Path, codec: str) -> dict[str, list[tuple[float, float]]]:
    """Per-quality means of a committed sweep: ``{metric: [(payload kbps, value)]}``."""
    rows = [json.loads(line) for line in (anchors / "results.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["codec"] == codec]
    out: dict[str, list[tuple[float, float]]] = {m: [] for m in METRICS}
    for q in sorted({r["quality"] for r in rows}):
        sel = [r for r in rows if r["quality"] == q]
        rate = float(np.mean([r["payload_kbps"] for r in sel]))
        for m in METRICS:
            out[m].append((rate, float(np.nanmean([r[m] for r in sel]))))
    return out


def snapshots(run: Path) -> list[tuple[Path, dict]]:
    from ncodec.weights import metadata

    out = []
    for p in sorted((run / "snapshots").glob("step-*.safetensors")):
        meta = metadata(p) or {}
        out.append((p, meta.get("provenance", {})))
    return out


def smoke_run(root: Path) -> Path:
    import torch

    from ncodec.checkpoint import save_weights
    from ncodec.codecs.audio.registry import build_model
    from ncodec.codecs.model_state import learned_state

    (root / "snapshots").mkdir(parents=True)
    for step in (1, 2):
        torch.manual_seed(step)
        m = build_model("wavelet", C=16, M=8, N=8)
        with torch.no_grad():
            m.g_a[-1].weight.mul_(40.0)
        save_weights(learned_state(m), root / "snapshots" / f"step-{step:07d}.safetensors",
                     {"config": m.config(), "provenance": {"step": step, "hours": step / 100}})
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, nargs="?")
    ap.add_argument("--codec", default="wavelet-audio")
    ap.add_argument("--data", type=Path, default=None, help="speech folder (dev set)")
    ap.add_argument("--held-out", type=Path, default=None, metavar="TRAIN_DIR",
                    help="evaluate this training folder's held-out speakers instead")
    ap.add_argument("--kbps", type=float, default=6.0)
    ap.add_argument("--anchors", type=Path, default=None, help="ncodec bench results of the same files")
    ap.add_argument("--anchor-codec", default="opus:application=voip")
    ap.add_argument("--qualities", default=",".join(f"{q:g}" for q in QUALITIES))
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    qualities = [float(q) for q in args.qualities.split(",")]
    if args.smoke:
        import tempfile

        from ncodec.datasets.samples import sample_path

        root = Path(tempfile.mkdtemp(prefix="ncodec-smoke-"))
        args.run, files, qualities, label = smoke_run(root / "run"), [sample_path("audio")], [0.0, 1.0], "smoke"
        args.plot = root / "curve.png"
    elif args.held_out is not None:
        from ncodec.codecs.audio.training_data import audio_files, speaker_split

        files, label = speaker_split(audio_files([args.held_out]))[1], "held-out"
    else:
        from ncodec.media_io.audio import AUDIO_READ_EXTS

        files = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in AUDIO_READ_EXTS)
        label = args.data.name
    if args.run is None:
        ap.error("RUN_DIR is required (or --smoke)")
    items = load_items(files)
    anchors = anchor_points(args.anchors, args.anchor_codec) if args.anchors else None
    rows = []
    for path, prov in snapshots(args.run):
        cache = path.with_name(path.name.replace(".safetensors", f".{label}.eval.json"))
        if cache.exists() and json.loads(cache.read_text()).get("qualities") == qualities:
            res = json.loads(cache.read_text())["results"]
        else:
            res = evaluate(args.codec, path, items, qualities)
            if not args.smoke:
                cache.write_text(json.dumps({"qualities": qualities, "results": res}, indent=1))
        at = {m: interpolate(list(zip(res["kbps"], res[m])), args.kbps) for m in METRICS}
        rows.append((prov.get("step"), prov.get("hours"), res["kbps"][0], res["kbps"][-1], at))
    ref = {m: interpolate(anchors[m], args.kbps) for m in METRICS} if anchors else {}
    print(f"{args.codec} snapshots of {args.run} on {label} ({len(items)} files, 16 kHz mono); metrics at "
          f"{args.kbps:g} kbit/s payload" + (f"; {args.anchor_codec} there: " + ", ".join(
              f"{m} {v:.3f}" for m, v in ref.items()) if ref else ""))
    print("| step | hours | kbit/s range | PESQ-WB | STOI | mel distance |" + (" PESQ vs anchor |" if ref else ""))
    print("|---:|---:|---|---:|---:|---:|" + ("---:|" if ref else ""))
    for step, hours, lo, hi, at in rows:
        line = f"| {step} | {hours} | {lo:.1f}-{hi:.1f} | {at['pesq']:.2f} | {at['stoi']:.3f} | {at['mel']:.3f} |"
        print(line + (f" {at['pesq'] - ref['pesq']:+.2f} |" if ref else ""))
    if args.plot and rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for ax, m, name in zip(axes, ("pesq", "mel"), ("PESQ-WB", "log-mel distance")):
            ax.plot([r[1] for r in rows], [r[4][m] for r in rows], "o-", label=args.codec)
            if ref:
                ax.axhline(ref[m], color="grey", ls="--", label=f"{args.anchor_codec}")
            ax.set_xlabel("hours of training (2 CPU cores)")
            ax.set_title(f"{name} at {args.kbps:g} kbit/s payload ({label})")
            ax.legend(fontsize=7)
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
