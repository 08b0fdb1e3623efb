"""``make demo``: encode and decode the bundled samples with one classical codec per medium,
plus every learned image codec whose weights ship in ``ncodec/weights/``."""

from __future__ import annotations

import time
from pathlib import Path

from ncodec.codecs import get
from ncodec.datasets.samples import load_sample
from ncodec.eval.metrics import quality_summary

DEMO_RUNS = (("image", "jpeg", 75.0), ("image", "avif", 60.0), ("video", "h264", None),
             ("audio", "opus", 24.0))


DEMO_SWEEP = ("jpeg", "webp", "jpeg2000", "avif")
LEARNED_IMAGE = ("checkerboard", "mean-scale", "hyperprior", "factorized")


def shipped_learned_image_codecs() -> tuple[str, ...]:
    """The learned image codecs (registry names) whose default weights file is present."""
    from ncodec.codecs import get
    from ncodec.weights import WEIGHTS_DIR

    return tuple(n for n in LEARNED_IMAGE if (WEIGHTS_DIR / f"{get(n).arch}.safetensors").is_file())


def run_demo(out_dir: Path = Path("demo_out")) -> list[dict]:
    rows = []
    learned = shipped_learned_image_codecs()
    if not learned:
        print("learned image codecs: no shipped weights in ncodec/weights/ yet (see its README.md)")
    for kind, name, quality in DEMO_RUNS + tuple(("image", a, 0.5) for a in learned):
        media = load_sample(kind)
        codec = get(name)
        t = time.perf_counter()
        data = codec.encode(media, quality)
        t_enc = time.perf_counter() - t
        t = time.perf_counter()
        out = codec.decode(data)
        t_dec = time.perf_counter() - t
        s = quality_summary(media, out, len(data))
        rate = f"{s['bpp']:.3f} bpp" if "bpp" in s else f"{s['kbps']:.1f} kbit/s"
        dist = (f"PSNR {s['psnr']:.2f} dB" if "psnr" in s else
                f"Y-PSNR {s['y_psnr']:.2f} dB" if "y_psnr" in s else f"SNR {s['snr']:.2f} dB")
        q = codec.check_quality(quality)
        rows.append({"medium": kind, "codec": name, "quality": q, "bytes": len(data), "rate": rate,
                     "distortion": dist, "encode_s": t_enc, "decode_s": t_dec})
    print(f"{'medium':<7} {'codec':<12} {'q':>5} {'bytes':>9} {'rate':>15} {'distortion':>18} {'enc s':>6} {'dec s':>6}")
    for r in rows:
        print(f"{r['medium']:<7} {r['codec']:<12} {r['quality']:>5g} {r['bytes']:>9,} {r['rate']:>15} "
              f"{r['distortion']:>18} {r['encode_s']:>6.2f} {r['decode_s']:>6.2f}")
    rd_sweep(out_dir, DEMO_SWEEP + learned)
    return rows


def rd_sweep(out_dir: Path, codecs: tuple[str, ...] = DEMO_SWEEP) -> None:
    """A small RD sweep of the image codecs on the bundled image, with report and plot."""
    from ncodec.datasets.collection import LoadOptions, list_media
    from ncodec.datasets.samples import sample_path
    from ncodec.eval.qualities import auto_qualities
    from ncodec.eval.report import build_report
    from ncodec.eval.sweep import CodecSpec, SweepPlan, run_sweep

    dataset = list_media([sample_path("image")], "image")
    probe = [load_sample("image")]
    specs = [CodecSpec(n) for n in codecs]
    qualities = {s.label: auto_qualities(s.make(), probe, points=5) for s in specs}
    plan = SweepPlan(dataset, specs, qualities, ["psnr", "ms-ssim"], LoadOptions())
    print(f"\nRD sweep of {', '.join(codecs)} on the bundled image ...")
    run_sweep(plan, out_dir, progress=False)
    cfg = out_dir / "config.json"
    import json

    c = json.loads(cfg.read_text())
    c.update({"anchor": "jpeg", "title": "bundled sample image"})
    cfg.write_text(json.dumps(c, indent=2, sort_keys=True))
    summary = build_report(out_dir, "jpeg")
    for codec, row in sorted(summary["bd_rate"].items()):
        if codec != "jpeg" and row["psnr"]["mean_curve"] is not None:
            print(f"  BD-rate {codec} vs jpeg (PSNR): {row['psnr']['mean_curve']:+.1f} %")
    print(f"report: {out_dir / 'report.md'}\nplot:   {out_dir / 'rd_psnr.png'}")
