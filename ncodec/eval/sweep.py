"""RD sweeps: every (codec, quality, item) coded, decoded and measured; resumable.

Work is split into jobs of one item x one codec x the qualities still missing for them, so
an item is loaded once per codec. Each finished job appends its records to
``DIR/results.jsonl`` (flushed and fsynced), one JSON object per (codec, quality, item):
rate, metrics, encode/decode seconds and the codec's settings. Re-running the same sweep
skips every record already present, so an interrupted sweep resumes where it stopped; codecs
that fit a network at encode time (NeRV family) checkpoint into ``DIR/fits/`` so that even a
half-done fit resumes (each fit directory is removed once its record is written). A
sweep's defining options live in ``DIR/config.json``; resuming with different ones is an
error rather than a silent mix.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ncodec.datasets.collection import Dataset, LoadOptions, load_item
from ncodec.errors import NcodecError


@dataclass(frozen=True)
class CodecSpec:
    """A codec name plus constructor options, written ``name[:key=value[:key=value]]``."""

    name: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "CodecSpec":
        parts = text.strip().split(":")
        opts = []
        for p in parts[1:]:
            if "=" not in p:
                raise NcodecError(f"codec option {p!r} in {text!r} must be key=value")
            k, v = p.split("=", 1)
            opts.append((k.strip(), v.strip()))
        return cls(parts[0].strip(), tuple(opts))

    @property
    def label(self) -> str:
        return ":".join([self.name, *(f"{k}={v}" for k, v in self.options)])

    def make(self):
        from ncodec.codecs import get

        return get(self.name, **dict(self.options))


@dataclass(frozen=True)
class Job:
    path: str
    item: str
    kind: str
    codec: CodecSpec
    qualities: tuple[float, ...]
    metrics: tuple[str, ...]
    load: LoadOptions
    lpips_weights: Optional[str] = None
    fit_root: Optional[str] = None  # where codecs that fit at encode time checkpoint (resumable)


def fit_dir(fit_root: str | Path, item: str, codec_label: str, quality: float) -> Path:
    """Checkpoint directory of one fit (item x codec x quality) of a sweep."""
    name = re.sub(r"[^A-Za-z0-9._=-]+", "_", f"{item}--{codec_label}--q{float(quality):g}")
    return Path(fit_root) / name


def run_job(job: Job) -> list[dict[str, Any]]:
    """Code one item with one codec at several qualities (runs in a worker process)."""
    from ncodec.container import Container
    from ncodec.eval.measure import RATE_KEY, measure

    try:
        media = load_item(Path(job.path), job.kind, job.load)
    except Exception as exc:  # an unreadable file is reported, not fatal
        return [{"codec": job.codec.label, "item": job.item, "error": f"cannot read: {exc}"}]
    codec = job.codec.make()
    lpips_metric = None
    if "lpips" in job.metrics:
        from ncodec.eval.image_quality import LpipsMetric, LpipsUnavailable

        try:
            lpips_metric = LpipsMetric(job.lpips_weights)
        except LpipsUnavailable:
            lpips_metric = None
    records = []
    fits = bool(getattr(codec, "fits_at_encode", False) and job.fit_root)
    for q in job.qualities:
        if fits:  # a killed sweep resumes this fit from its last checkpoint, not from scratch
            codec.workdir = fit_dir(job.fit_root, job.item, job.codec.label, q)
        try:
            t = time.perf_counter()
            data = codec.encode(media, q)
            t_enc = time.perf_counter() - t
            t = time.perf_counter()
            container = Container.from_bytes(data)
            decoded = codec.decode(container)
            t_dec = time.perf_counter() - t
        except Exception as exc:
            records.append({"codec": job.codec.label, "quality": q, "item": job.item,
                            "error": f"{type(exc).__name__}: {exc}"})
            continue
        rec = {"codec": job.codec.label, "quality": q, "item": job.item, "kind": job.kind,
               "encode_s": t_enc, "decode_s": t_dec}
        rec.update(measure(media, decoded, len(data), list(job.metrics), lpips_metric))
        payload = codec.payload_bytes(container)  # the coded media, without ncodec's header
        rec["payload_bytes"] = float(payload)
        rec["payload_" + RATE_KEY[job.kind]] = rec[RATE_KEY[job.kind]] * payload / len(data)
        if job.kind == "video":
            rec["frames"] = media.num_frames
        rec["settings"] = codec.settings()
        records.append(rec)
    return records


# ----------------------------------------------------------------------------- results file
def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _restore(x: Any) -> Any:
    if x == "inf":
        return math.inf
    if x == "-inf":
        return -math.inf
    if x is None:
        return math.nan
    if isinstance(x, dict):
        return {k: _restore(v) for k, v in x.items()}
    return x


def read_results(path: Path) -> list[dict[str, Any]]:
    """Records of a results.jsonl; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append({k: (_restore(v) if k not in ("codec", "item", "kind", "error", "settings") else v)
                    for k, v in rec.items()})
    return out


def append_results(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(_clean(r), sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- the sweep
@dataclass
class SweepPlan:
    dataset: Dataset
    codecs: list[CodecSpec]
    qualities: dict[str, list[float]]
    metrics: list[str]
    load: LoadOptions
    lpips_weights: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {"kind": self.dataset.kind, "root": str(self.dataset.root), "codecs": [c.label for c in self.codecs],
                "metrics": self.metrics, "load": self.load.as_dict(),
                "qualities": {k: list(v) for k, v in self.qualities.items()}}

    def jobs(self, done: set[tuple[str, float, str]], fit_root: Optional[Path] = None) -> list[Job]:
        out = []
        for path in self.dataset.files:
            item = self.dataset.item_id(path)
            for c in self.codecs:
                qs = tuple(q for q in self.qualities[c.label] if (c.label, float(q), item) not in done)
                if qs:
                    out.append(Job(str(path), item, self.dataset.kind, c, qs, tuple(self.metrics), self.load,
                                   self.lpips_weights, str(fit_root) if fit_root else None))
        return out


def check_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Write DIR/config.json, or check that an existing one describes the same sweep."""
    path = out_dir / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        keys = ("kind", "metrics", "load")
        if any(old.get(k) != config.get(k) for k in keys):
            raise NcodecError(f"{out_dir} holds a different sweep ({', '.join(f'{k}={old.get(k)}' for k in keys)}); "
                              "use another --out directory")
        old_codecs = set(old.get("codecs", []))
        config = {**config, "codecs": sorted(old_codecs | set(config["codecs"])),
                  "qualities": {**old.get("qualities", {}), **config["qualities"]}}
    path.write_text(json.dumps(config, indent=2, sort_keys=True))


def run_sweep(plan: SweepPlan, out_dir: Path, *, jobs: int = 1, backend: str = "local",
              progress: bool = True, on_records: Optional[Callable[[list[dict]], None]] = None) -> list[dict]:
    """Run what is missing from ``out_dir/results.jsonl``; return all records of this plan."""
    from ncodec.eval.backends import execute

    out_dir.mkdir(parents=True, exist_ok=True)
    check_config(out_dir, plan.config())
    results_path = out_dir / "results.jsonl"
    existing = read_results(results_path)
    done = {(r["codec"], float(r["quality"]), r["item"]) for r in existing if "error" not in r and "quality" in r}
    todo = plan.jobs(done, fit_root=out_dir / "fits")

    def sink(records: list[dict]) -> None:
        append_results(results_path, records)
        for r in records:  # a fit's checkpoint goes only once its record is safely written
            if "error" not in r and "quality" in r:
                d = fit_dir(out_dir / "fits", r["item"], r["codec"], r["quality"])
                if (d / "trace.csv").exists():  # the fit's trajectory outlives its checkpoint
                    (out_dir / "traces").mkdir(exist_ok=True)
                    shutil.move(str(d / "trace.csv"), str(out_dir / "traces" / f"{d.name}.csv"))
                shutil.rmtree(d, ignore_errors=True)
        if on_records is not None:
            on_records(records)

    execute(run_job, todo, sink, jobs=jobs, backend=backend, progress=progress)
    labels = {c.label for c in plan.codecs}
    items = {plan.dataset.item_id(p) for p in plan.dataset.files}
    return [r for r in read_results(results_path) if r.get("codec") in labels and r.get("item") in items]


def job_summary(job: Job) -> str:
    return f"{job.codec.label} {job.item}"


