"""Command-line latency: wall time of whole ``ncodec`` processes against the interpreter's floor.

Each command runs ``--repeat`` times as a fresh process; the table gives the median wall time,
its ratio to ``python -c pass`` and the time above ``python -c "import PIL, av"`` (the
libraries a classical decode needs in any case); ``python -c "import torch"`` is the floor of a
learned decode. Streams are made first from the bundled
samples (and, with ``--image``, a learned checkerboard stream of that image; the default is
Kodak's kodim01 when ../shared/data is present); making them is not timed.

Usage: ``python benchmarks/cli_latency.py [--repeat 5] [--image PATH] [--smoke]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KODAK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images" / "kodak" / "kodim01.png"
TARGETS = {"codecs": 1.0, "info": 1.0, "decode png": 1.0, "decode webp": 1.0, "decode h264": 1.0,
           "decode opus": 1.0, "decode checkerboard": 3.0}


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def make_streams(work: Path, image: Path | None) -> dict[str, Path]:
    import ncodec
    from ncodec.media_io import read_media
    from ncodec.datasets.samples import load_sample

    made = {}
    for name, kind, q in [("png", "image", None), ("webp", "image", 75), ("h264", "video", None),
                          ("opus", "audio", 64)]:
        made[name] = work / f"{name}.ncd"
        made[name].write_bytes(ncodec.encode(load_sample(kind), name, q))
    source = read_media(image) if image is not None else load_sample("image")
    made["checkerboard"] = work / "checkerboard.ncd"
    made["checkerboard"].write_bytes(ncodec.encode(source, "checkerboard", 0.5))
    return made


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--image", type=Path, default=KODAK if KODAK.is_file() else None,
                    help="image for the learned stream (default: Kodak kodim01 if present, else the bundled sample)")
    ap.add_argument("--smoke", action="store_true", help="one run of each, bundled sample only (for tests)")
    args = ap.parse_args()
    if args.smoke:
        args.repeat, args.image = 1, None
    ncodec_cmd = [str(Path(sys.executable).with_name("ncodec"))]
    if not Path(ncodec_cmd[0]).exists():
        ncodec_cmd = [sys.executable, "-m", "ncodec.cli.main"]
    work = Path(tempfile.mkdtemp(prefix="ncodec-latency-"))
    try:
        s = make_streams(work, args.image)
        out = work / "out"
        out.mkdir()
        runs = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import PIL, av'": [sys.executable, "-c", "import PIL, av"],
            "python -c 'import torch'": [sys.executable, "-c", "import torch"],
            "codecs": ncodec_cmd + ["codecs"],
            "info": ncodec_cmd + ["info", str(s["checkerboard"])],
            "decode png": ncodec_cmd + ["decode", "-f", str(s["png"]), str(out / "a.png")],
            "decode webp": ncodec_cmd + ["decode", "-f", str(s["webp"]), str(out / "b.png")],
            "decode h264": ncodec_cmd + ["decode", "-f", str(s["h264"]), str(out / "c.y4m")],
            "decode opus": ncodec_cmd + ["decode", "-f", str(s["opus"]), str(out / "d.wav")],
            "decode checkerboard": ncodec_cmd + ["decode", "-f", str(s["checkerboard"]), str(out / "e.png")],
        }
        times = {name: wall(cmd, args.repeat) for name, cmd in runs.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor, libs = times["python -c pass"], times["python -c 'import PIL, av'"]
    learned = args.image.name if args.image is not None else "bundled 256x256 sample"
    print(f"median of {args.repeat} runs; learned stream: checkerboard q=0.5 of {learned}\n")
    print("| command | wall s | x python -c pass | s above import PIL, av | target s | met |")
    print("|---|---:|---:|---:|---:|---|")
    for name, t in times.items():
        target = TARGETS.get(name)
        met = "" if target is None else ("yes" if t <= target else "no")
        print(f"| {name} | {t:.2f} | {t / floor:.1f} | {t - libs:+.2f} | {'' if target is None else target} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
