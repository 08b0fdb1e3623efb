"""Sweep reports: ``report.md``, ``rd_<metric>.png`` / ``.svg`` and ``summary.json``.

Everything is rebuilt from ``results.jsonl`` (and ``config.json``), so ``ncodec bench
--report DIR`` regenerates a report without coding anything again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from ncodec.eval.aggregate import anchor_finite_curves, bd_table, curves, rate_at
from ncodec.eval.measure import RATE_KEY
from ncodec.eval.sweep import read_results

UNITS = {"psnr": "dB", "psnr-y": "dB", "psnr-y709": "dB", "yuv-psnr": "dB", "ms-ssim": "", "lpips": "",
         "snr": "dB", "si-sdr": "dB", "mel": "", "stoi": ""}
RATE_LABEL = {"bpp": "bits per pixel", "kbps": "kbit/s"}
METRIC_LABEL = {"psnr": "PSNR", "psnr-y": "Y-PSNR (BT.601)", "psnr-y709": "Y-PSNR (BT.709)", "yuv-psnr": "YUV-PSNR (6:1:1)",
                "ms-ssim": "MS-SSIM", "lpips": "LPIPS", "snr": "SNR", "si-sdr": "SI-SDR", "mel": "log-mel distance",
                "stoi": "STOI"}
PROBE_RATES = {"image": (0.25, 0.5, 1.0), "video": (0.02, 0.05, 0.1), "audio": (6.0, 12.0, 24.0, 48.0)}


def _fmt(x: Optional[float], digits: int = 2, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def plot(curve_set: dict[str, list[dict]], kind: str, metric: str, out_base: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate_key = RATE_KEY[kind]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for codec, pts in sorted(curve_set.items()):
        xs = [p[rate_key] for p in pts if math.isfinite(p.get(metric, math.nan))]
        ys = [p[metric] for p in pts if math.isfinite(p.get(metric, math.nan))]
        if xs:
            ax.plot(xs, ys, marker="o", markersize=4, label=codec)
    ax.set_xlabel(f"rate ({RATE_LABEL[rate_key]})")
    unit = UNITS.get(metric, "")
    ax.set_ylabel(METRIC_LABEL.get(metric, metric) + (f" ({unit})" if unit else ""))
    if kind == "audio":
        ax.set_xscale("log")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    paths = [out_base.with_suffix(".png"), out_base.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=120)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def complete_items(records: list[dict[str, Any]], config: dict[str, Any]) -> tuple[list[dict], list[str]]:
    """Keep the items that every configured (codec, quality) point has, so that mean curves
    and BD-rates of an interrupted sweep compare the same items; list the others."""
    wanted = {(c, float(q)) for c, qs in config.get("qualities", {}).items() for q in qs}
    have: dict[str, set] = {}
    for r in records:
        have.setdefault(r["item"], set()).add((r["codec"], float(r["quality"])))
    done = {item for item, pts in have.items() if wanted <= pts}
    return [r for r in records if r["item"] in done], sorted(set(have) - done)


def build_report(out_dir: Path, anchor: Optional[str] = None) -> dict[str, Any]:
    """Write report.md, the plots and summary.json from DIR's results; return the summary."""
    out_dir = Path(out_dir)
    config_path = out_dir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{out_dir} has no config.json: not a sweep directory")
    config = json.loads(config_path.read_text())
    records = read_results(out_dir / "results.jsonl")
    kind, metrics = config["kind"], config["metrics"]
    rate_key = RATE_KEY[kind]
    errors = [r for r in records if "error" in r]
    good, incomplete = complete_items([r for r in records if "error" not in r], config)
    curve_set = curves(good, kind, metrics)
    anchor = anchor or config.get("anchor") or (config["codecs"][0] if config["codecs"] else None)
    bd = bd_table(good, kind, metrics, anchor) if anchor in curve_set else {}
    items = sorted({r["item"] for r in good})
    plots = {}
    for m in metrics:
        # plot the curves the BD-rates use (items the anchor codes exactly left out)
        plot_set = anchor_finite_curves(good, kind, m, anchor)[0] if anchor in curve_set else curve_set
        if any(math.isfinite(p.get(m, math.nan)) for pts in plot_set.values() for p in pts):
            title = config.get("title") or f"{config['root']} ({len(items)} {kind} items)"
            paths = plot(plot_set, kind, m, out_dir / f"rd_{m}", title)
            plots[m] = [p.name for p in paths]
    summary = {"config": config, "anchor": anchor, "items": len(items), "records": len(good),
               "incomplete_items": incomplete,
               "errors": [{"codec": e.get("codec"), "item": e.get("item"), "error": e["error"]} for e in errors],
               "curves": curve_set, "bd_rate": bd, "plots": plots}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    if anchor in curve_set:
        summary["fixed_rate_curves"] = anchor_finite_curves(good, kind, metrics[0], anchor)
    (out_dir / "report.md").write_text(_markdown(summary, kind, metrics, rate_key))
    return summary


def _markdown(s: dict[str, Any], kind: str, metrics: list[str], rate_key: str) -> str:
    cfg = s["config"]
    lines = [f"# RD report: {cfg.get('title', cfg['root'])}", "",
             f"{s['items']} {kind} items from `{cfg['root']}`; {s['records']} coded points; "
             f"anchor `{s['anchor']}`; load options {json.dumps(cfg['load'])}.", ""]
    if s["bd_rate"]:
        lines += [f"## BD-rate vs {s['anchor']} (PCHIP; negative = fewer bits)", "",
                  "| codec | " + " | ".join(f"{m} (mean curve) | {m} (per-item mean)" for m in metrics) + " |",
                  "|---|" + "---:|---:|" * len(metrics)]
        for codec, row in sorted(s["bd_rate"].items()):
            cells = []
            for m in metrics:
                e = row[m]
                left = e.get("mean_curve_items_left_out", 0)
                cells += [(_fmt(e["mean_curve"], 1, True) + " %" if e["mean_curve"] is not None else "–")
                          + (f" ({left} left out)" if left else ""),
                          (_fmt(e["per_item_mean"], 1, True) + " %" if e["per_item_mean"] is not None else "–")
                          + (f" ({e['items_skipped']} skipped)" if e["items_skipped"] else "")]
            lines.append(f"| {codec} | " + " | ".join(cells) + " |")
        if any(e.get("mean_curve_items_left_out") for row in s["bd_rate"].values() for e in row.values()):
            lines.append("\n'left out': items where the anchor reaches an infinite metric (coded exactly) are "
                         "left out of that metric's mean curves; per-item BD-rates skip items whose curves "
                         "have no finite overlap.")
        lines.append("")
    probe = PROBE_RATES[kind]
    m0 = metrics[0]
    fixed, left = s.get("fixed_rate_curves", (s["curves"], 0))
    lines += [f"## {METRIC_LABEL.get(m0, m0)} at fixed rates (interpolated on the mean curve"
              + (f" of the {s['items'] - left} items where the anchor's value is finite)" if left else ")"), "",
              "| codec | " + " | ".join(f"{r:g} {rate_key}" for r in probe) + " |", "|---|" + "---:|" * len(probe)]
    for codec, pts in sorted(fixed.items()):
        lines.append(f"| {codec} | " + " | ".join(_fmt(rate_at(pts, rate_key, m0, r)) for r in probe) + " |")
    lines.append("")
    for codec, pts in sorted(s["curves"].items()):
        extra = ["kbps"] if kind == "video" else []
        speed = ["encode_fps", "decode_fps"] if kind == "video" else []
        head = ["quality", rate_key, *extra, *metrics, "encode s", "decode s", *speed]
        lines += [f"### {codec}", "", "| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
        for p in pts:
            vals = [f"{p['quality']:g}", _fmt(p[rate_key], 4)] + [_fmt(p[k], 1) for k in extra]
            vals += [_fmt(p[m], 4 if m in ("ms-ssim", "lpips", "stoi", "mel") else 2) for m in metrics]
            vals += [_fmt(p["encode_s"], 3), _fmt(p["decode_s"], 3)] + [_fmt(p[k], 1) for k in speed]
            lines.append("| " + " | ".join(vals) + " |")
        lines.append("")
    for m, files in s["plots"].items():
        lines += [f"![{m}]({files[0]})", ""]
    if s["incomplete_items"]:
        lines += [f"Not yet complete (left out of every table): {', '.join(s['incomplete_items'])}.", ""]
    if s["errors"]:
        lines += ["## Skipped", ""] + [f"- {e['codec']} {e['item']}: {e['error']}" for e in s["errors"]] + [""]
    return "\n".join(lines)
