"""Speed of the audio codecs on one core: encode and decode as multiples of real time.

Every codec codes the same audio (16 kHz mono speech by default; ``--sample-rate 44100
--stereo`` for music) with ``torch.set_num_threads(1)`` in this one
process (models loaded and warmed up first); the table gives seconds of audio per second of
work for encode and decode and, as the anchor measured in the same run, the ratio to Opus.

    .venv/bin/python benchmarks/audio_codec_speed.py --data ../shared/data/audio/speech \\
        --codecs opus:application=voip@6,wavelet-audio@0.5,rvq-audio@12

    .venv/bin/python benchmarks/audio_codec_speed.py --data ../shared/data/audio/music \\
        --sample-rate 44100 --stereo --codecs opus@64,aac@64,wavelet-music@0.5

``CODEC@QUALITY`` picks the quality; ``--smoke`` runs Opus and random tiny learned models on
the bundled sample.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--codecs", default="opus:application=voip@6,wavelet-audio@0.5,rvq-audio@12")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sample-rate", type=int, default=16_000, help="items are resampled to this rate")
    ap.add_argument("--stereo", action="store_true", help="keep the files' channels (default: mix to mono)")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()

    import torch

    from ncodec.eval.sweep import CodecSpec
    from ncodec.media_io.audio import AUDIO_READ_EXTS, read_audio

    torch.set_num_threads(1)
    specs = [s.rsplit("@", 1) for s in args.codecs.split(",")]
    if args.smoke:
        import tempfile

        from ncodec.checkpoint import save_weights
        from ncodec.codecs.audio.registry import build_model
        from ncodec.codecs.model_state import learned_state
        from ncodec.datasets.samples import sample_path

        root = Path(tempfile.mkdtemp(prefix="ncodec-smoke-"))
        files, args.repeat = [sample_path("audio")], 1
        for arch in ("wavelet", "rvq"):
            m = build_model(arch, C=16, **({"M": 8, "N": 8} if arch == "wavelet" else {"D": 8, "codebooks": 4}))
            save_weights(learned_state(m), root / f"{arch}.safetensors", {"config": m.config()})
        specs = [["opus:application=voip", "6"], [f"wavelet-audio:weights={root / 'wavelet.safetensors'}", "0.5"],
                 [f"rvq-audio:weights={root / 'rvq.safetensors'}", "4"]]
    else:
        files = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in AUDIO_READ_EXTS)
    items = [read_audio(f, sample_rate=args.sample_rate, mono=not args.stereo) for f in files]
    seconds = sum(a.num_samples / a.sample_rate for a in items)
    rows = []
    for spec, q in specs:
        codec = CodecSpec.parse(spec).make()
        quality = float(q)
        codec.decode(codec.encode(items[0], quality))  # load and warm up
        streams = [codec.encode(a, quality) for a in items]
        enc = timed(lambda: [codec.encode(a, quality) for a in items], args.repeat)
        dec = timed(lambda: [codec.decode(s) for s in streams], args.repeat)
        kbps = 8 * sum(codec.payload_bytes(codec.open(s)) for s in streams) / seconds / 1000
        rows.append((f"{spec.split(':weights=')[0]} @ {q}", kbps, seconds / enc, seconds / dec))
    anchor = rows[0]
    layout = "stereo" if args.stereo else "mono"
    print(f"{len(items)} files, {seconds:.1f} s at {args.sample_rate / 1000:g} kHz {layout}, one thread; "
          f"best of {args.repeat}")
    print(f"| codec | payload kbit/s | encode x real time | decode x real time | encode vs {anchor[0]} | decode vs it |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, kbps, e, d in rows:
        print(f"| {name} | {kbps:.2f} | {e:.0f} | {d:.0f} | {e / anchor[2]:.2f} | {d / anchor[3]:.2f} |")


if __name__ == "__main__":
    main()
