"""What the learned token prior saves: rvq-audio's coded tokens against fixed-length indices.

Codes every file (16 kHz mono) with the first ``n`` codebooks for several ``n`` and compares the
``tokens`` chunk (entropy-coded under the causal prior) with the same tokens written as
``log2(V)``-bit indices; the quality is identical by construction (the same tokens decode).

    .venv/bin/python benchmarks/token_prior_savings.py --data ../shared/data/audio/speech

``--smoke``: a random tiny model on the bundled sample.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--weights", type=Path, default=None, help="rvq-audio weights (default: shipped)")
    ap.add_argument("--codebooks", default="4,8,12,16,24,32")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()

    from ncodec.codecs.audio.token_codec import TokenAudioCodec
    from ncodec.media_io.audio import AUDIO_READ_EXTS, read_audio

    counts = [int(n) for n in args.codebooks.split(",")]
    if args.smoke:
        import tempfile

        from ncodec.checkpoint import save_weights
        from ncodec.codecs.audio.registry import build_model
        from ncodec.codecs.model_state import learned_state
        from ncodec.datasets.samples import sample_path

        m = build_model("rvq", C=16, D=8, codebooks=4, size=64, hidden=16)
        args.weights = Path(tempfile.mkdtemp(prefix="ncodec-smoke-")) / "rvq.safetensors"
        save_weights(learned_state(m), args.weights, {"config": m.config()})
        files, counts = [sample_path("audio")], [2, 4]
    else:
        files = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in AUDIO_READ_EXTS)
    codec = TokenAudioCodec(weights=args.weights)
    items = [read_audio(f, sample_rate=16_000, mono=True) for f in files]
    seconds = sum(a.num_samples / a.sample_rate for a in items)
    print(f"{len(items)} files, {seconds:.1f} s; codebooks of {codec.model.size} vectors, "
          f"{codec.model.sample_rate // codec.model.stride} frames/s")
    print("| codebooks | fixed-length kbit/s | under the prior kbit/s | saving |")
    print("|---:|---:|---:|---:|")
    for n in counts:
        coded = fixed = 0.0
        for a in items:
            data = codec.encode(a, n)
            c = codec.open(data)
            coded += 8 * len(c.chunks["tokens"])
            fixed += codec.fixed_length_bits(codec.latents(c))
        print(f"| {n} | {fixed / seconds / 1000:.2f} | {coded / seconds / 1000:.2f} | {100 * (1 - coded / fixed):.1f} % |")


if __name__ == "__main__":
    main()
