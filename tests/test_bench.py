"""The RD harness: sweeps, resume, backends, reports, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image as PILImage

from ncodec.cli.main import main
from ncodec.datasets.collection import LoadOptions, list_media
from ncodec.errors import MediaError
from ncodec.eval.report import build_report
from ncodec.eval.sweep import CodecSpec, SweepPlan, read_results, run_sweep

TIMING = {"encode_s", "decode_s"}


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(3):
        y, x = np.mgrid[0:176, 0:200]
        base = (np.sin(x / (7 + i)) * 60 + np.cos(y / 11) * 50 + 120)[..., None] + rng.normal(0, 6, (176, 200, 3))
        PILImage.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(d / f"im{i}.png")
    return d


def _plan(image_dir, qualities=(30, 60, 90)):
    ds = list_media([image_dir], "image")
    specs = [CodecSpec.parse("jpeg"), CodecSpec.parse("webp")]
    return SweepPlan(ds, specs, {s.label: list(qualities) for s in specs}, ["psnr", "ms-ssim"], LoadOptions())


def _strip(records):
    return sorted((json.dumps({k: v for k, v in r.items() if k not in TIMING}, sort_keys=True, default=str)
                   for r in records))


def test_sweep_report_and_rebuild(image_dir, tmp_path):
    out = tmp_path / "run"
    records = run_sweep(_plan(image_dir), out, progress=False)
    assert len(records) == 3 * 2 * 3 and all("error" not in r for r in records)
    r = records[0]
    assert r["bpp"] == pytest.approx(8 * r["bytes"] / (176 * 200)) and r["psnr"] > 20 and 0 < r["ms-ssim"] <= 1
    summary = build_report(out, "jpeg")
    assert summary["bd_rate"]["jpeg"]["psnr"]["mean_curve"] == pytest.approx(0, abs=1e-9)
    assert summary["bd_rate"]["webp"]["psnr"]["items"] == 3
    for name in ("report.md", "summary.json", "rd_psnr.png", "rd_psnr.svg", "rd_ms-ssim.png"):
        assert (out / name).exists(), name
    text = (out / "report.md").read_text()
    assert "BD-rate vs jpeg" in text and "![psnr](rd_psnr.png)" in text
    (out / "report.md").unlink()
    again = build_report(out, "jpeg")  # --report: rebuilt from results only
    assert (out / "report.md").read_text() == text
    assert again["bd_rate"] == summary["bd_rate"]


def test_interrupted_sweep_resumes_without_recomputing(image_dir, tmp_path):
    out = tmp_path / "run"
    seen = []

    def stop_after_two(records):
        seen.append(records)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(_plan(image_dir), out, progress=False, on_records=stop_after_two)
    first = read_results(out / "results.jsonl")
    assert len(first) == 2 * 3  # two jobs of three qualities were saved
    done = {(r["codec"], r["quality"], r["item"]) for r in first}
    recomputed = []
    records = run_sweep(_plan(image_dir), out, progress=False,
                        on_records=lambda rs: recomputed.extend((r["codec"], r["quality"], r["item"]) for r in rs))
    assert len(records) == 18 and not done & set(recomputed)
    assert len(read_results(out / "results.jsonl")) == 18  # nothing duplicated


def test_torn_last_line_is_ignored(image_dir, tmp_path):
    out = tmp_path / "run"
    run_sweep(_plan(image_dir, (50,)), out, progress=False)
    with open(out / "results.jsonl", "a") as f:
        f.write('{"codec": "jpeg", "quali')  # killed mid-write
    assert len(read_results(out / "results.jsonl")) == 6


def test_process_pool_and_ray_give_identical_results(image_dir, tmp_path):
    pytest.importorskip("ray")
    serial = run_sweep(_plan(image_dir, (40, 80)), tmp_path / "a", progress=False)
    pool = run_sweep(_plan(image_dir, (40, 80)), tmp_path / "b", jobs=2, progress=False)
    ray = run_sweep(_plan(image_dir, (40, 80)), tmp_path / "c", backend="ray", progress=False)
    assert _strip(serial) == _strip(pool) == _strip(ray)


def test_unreadable_files_are_listed_and_skipped(image_dir, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "good.png").write_bytes((image_dir / "im0.png").read_bytes())
    (d / "broken.png").write_bytes(b"not a png at all")
    ds = list_media([d], "image")
    plan = SweepPlan(ds, [CodecSpec.parse("jpeg")], {"jpeg": [50, 90]}, ["psnr"], LoadOptions())
    records = run_sweep(plan, tmp_path / "run", progress=False)
    assert [r["item"] for r in records if "error" in r] == ["broken.png"]
    summary = build_report(tmp_path / "run", "jpeg")
    assert summary["errors"][0]["item"] == "broken.png"
    assert "broken.png" in (tmp_path / "run" / "report.md").read_text()


def test_empty_dataset_and_unknown_codec(tmp_path, capsys):
    with pytest.raises(MediaError, match="no image files"):
        list_media([tmp_path], "image")
    assert main(["bench", "--codecs", "nosuch", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "unknown codec 'nosuch'" in capsys.readouterr().err


def test_cli_bench_auto_qualities(image_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["bench", "--codecs", "jpeg,jpeg2000", "--data", str(image_dir), "--metrics", "psnr",
                 "--anchor", "jpeg", "--out", str(out), "--points", "4", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "report:" in printed and "BD-rate jpeg2000 vs jpeg" in printed
    summary = json.loads((out / "summary.json").read_text())
    rates = {c: [p["bpp"] for p in pts] for c, pts in summary["curves"].items()}
    for c, r in rates.items():  # auto qualities span a common range
        assert len(r) >= 3 and min(r) < 0.6 and max(r) > 1.2, (c, r)
    assert math.isfinite(summary["bd_rate"]["jpeg2000"]["psnr"]["mean_curve"])
    assert main(["bench", "--report", str(out)]) == 0


def test_report_of_an_interrupted_sweep_uses_complete_items_only(image_dir, tmp_path):
    out = tmp_path / "run"

    def stop_after_one(records):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(_plan(image_dir), out, progress=False, on_records=stop_after_one)
    summary = build_report(out, "jpeg")  # im0 has jpeg but not webp yet
    assert summary["incomplete_items"] == ["im0.png"] and summary["records"] == 0
    assert "Not yet complete" in (out / "report.md").read_text()


def test_items_exact_for_the_anchor_are_left_out_of_mean_curves():
    """One degenerate item (the anchor codes it exactly: infinite PSNR) must not blank the mean-curve BD-rate."""
    import math

    from ncodec.eval.aggregate import bd_table

    recs = []
    t = {"encode_s": 0.1, "decode_s": 0.1}
    for item, scale in (("a", 1.0), ("b", 2.0)):
        for q, (r, m) in enumerate([(0.1, 30.0), (0.2, 33.0), (0.4, 36.0), (0.8, 39.0)]):
            recs.append({"codec": "ref", "item": item, "quality": q, "bpp": r * scale, "psnr": m, **t})
            recs.append({"codec": "new", "item": item, "quality": q, "bpp": 0.9 * r * scale, "psnr": m, **t})
    for q in range(4):
        recs.append({"codec": "ref", "item": "black", "quality": q, "bpp": 0.01 * (q + 1), "psnr": math.inf, **t})
        recs.append({"codec": "new", "item": "black", "quality": q, "bpp": 0.01 * (q + 1), "psnr": math.inf, **t})
    e = bd_table(recs, "image", ["psnr"], "ref")["new"]["psnr"]
    assert e["mean_curve"] is not None and abs(e["mean_curve"] + 10.0) < 0.01
    assert e["mean_curve_items_left_out"] == 1
    assert abs(e["per_item_mean"] + 10.0) < 0.01 and e["items"] == 2 and e["items_skipped"] == 1


def test_payload_leaves_out_the_container_and_ogg_framing():
    """An Opus stream's payload is its packets: less than the Ogg file in the chunk, which is less
    than the .ncd file; ncodec's own codecs count their chunks."""
    import ncodec
    from ncodec.codecs import get
    from ncodec.container import Container
    from ncodec.datasets.samples import load_sample

    speech = load_sample("audio")
    data = ncodec.encode(speech, "opus", 6, application="voip")
    c = Container.from_bytes(data)
    payload = get("opus").payload_bytes(c)
    ogg = len(c.chunks["bitstream"])
    assert 0.7 * ogg < payload < ogg - 100 < len(data)
    png = ncodec.encode(load_sample("image"), "png")
    pc = Container.from_bytes(png)
    assert get("png").payload_bytes(pc) == sum(len(v) for v in pc.chunks.values()) < len(png)
