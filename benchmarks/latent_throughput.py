"""Loading throughput for compressed-domain learning: items per second for latents from ``.ncd``
files (entropy decoding only) against decoding the same files to samples or pixels and against
reading the original files.

Streams are made first (cached in ``--cache``, not timed); each way of loading then reads every
item ``--repeat`` times in this one process on one thread and the best pass counts. The ratio
column is against reading the originals, measured in the same run.

    .venv/bin/python benchmarks/latent_throughput.py --data ../shared/data/audio/train_speech \\
        --glob 'fsdd_*.wav' --codec wavelet-audio --quality 0.5 --limit 300
    .venv/bin/python benchmarks/latent_throughput.py --data ../shared/data/images/classic \\
        --codec checkerboard --quality 0.5

``--smoke``: a few bundled-sample copies and a random tiny codec.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def best(fn, repeat: int) -> float:
    t = float("inf")
    for _ in range(repeat):
        s = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - s)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--glob", default="*")
    ap.add_argument("--codec", default="wavelet-audio")
    ap.add_argument("--quality", type=float, default=0.5)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=0, help="first N files (0 = all)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("runs/latents-throughput"))
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()

    import torch

    import ncodec
    from ncodec.learning import LatentDataset
    from ncodec.media_io import read_media
    from ncodec.media_io.audio import AUDIO_READ_EXTS
    from ncodec.media_io.image import IMAGE_READ_EXTS

    torch.set_num_threads(1)
    options = {"weights": str(args.weights)} if args.weights else {}
    if args.smoke:
        files, options = _smoke(args)
    else:
        exts = set(AUDIO_READ_EXTS) | set(IMAGE_READ_EXTS)
        files = sorted(p for p in args.data.rglob(args.glob) if p.suffix.lower() in exts)
        files = files[: args.limit] if args.limit else files
    ds = LatentDataset(files, args.codec, args.quality, cache=args.cache, options=options).prepare()
    streams = [ds.stream_path(i) for i in range(len(ds))]
    codec = ds.codec
    rows = [("read the originals", best(lambda: [read_media(f) for f in files], args.repeat)),
            (f"decode the .ncd files ({codec.kind})",
             best(lambda: [codec.decode(p.read_bytes()) for p in streams], args.repeat)),
            ("latents from the .ncd files", best(lambda: [ds[i] for i in range(len(ds))], args.repeat))]
    n = len(files)
    kind = ncodec.Container.from_bytes(streams[0].read_bytes()).media["kind"]
    print(f"{n} {kind} items, {args.codec} q={args.quality:g}, {ds.bits_per_item() / 8:.0f} bytes per item; "
          f"one thread, best of {args.repeat}")
    print("| loading | items/s | vs reading the originals |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {n / t:.1f} | {rows[0][1] / t:.2f} |")


def _smoke(args) -> tuple[list[Path], dict]:
    import shutil
    import tempfile

    from ncodec.checkpoint import save_weights
    from ncodec.codecs.audio.registry import build_model
    from ncodec.codecs.model_state import learned_state
    from ncodec.datasets.samples import sample_path

    root = Path(tempfile.mkdtemp(prefix="ncodec-smoke-"))
    files = []
    for i in range(3):
        files.append(root / f"s{i}{sample_path('audio').suffix}")
        shutil.copy(sample_path("audio"), files[-1])
    m = build_model("wavelet", C=16, M=8, N=8)
    save_weights(learned_state(m), root / "w.safetensors", {"config": m.config()})
    args.codec, args.cache, args.repeat = "wavelet-audio", root / "cache", 1
    return files, {"weights": str(root / "w.safetensors")}


if __name__ == "__main__":
    main()
