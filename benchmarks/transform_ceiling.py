"""How much of a learned image codec's distortion is quantization, and how much its transforms.

For each quality, every image goes through the analysis and synthesis transforms twice: once
with the latents rounded (what the codec decodes, up to the entropy model's mean offset) and once
unquantized, ``x' = g_s(g_a(x) gain(q) inverse_gain(q))``. The unquantized PSNR is the ceiling
no entropy model or rate can lift: when it sits close to the coded PSNR at the top quality, the
transforms, not the bits, cap the RD curve there::

    .venv/bin/python benchmarks/transform_ceiling.py ncodec/weights/checkerboard.safetensors \\
        --images ../shared/data/images/kodak --qualities 0,0.5,1

``--smoke``: the shipped weights of ``--arch`` on the bundled sample image (for tests).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


def image_model_args(description: str) -> tuple[argparse.Namespace, list[Path], list[float]]:
    """The options shared by the scripts that probe a learned image model's latents on a folder:
    weights files, architecture, images, qualities, limit, threads (also applied), and ``--smoke``
    (the shipped weights of ``--arch`` on the bundled sample image)."""
    from ncodec.datasets.collection import EXTENSIONS
    from ncodec.datasets.samples import SAMPLES_DIR, sample_path
    from ncodec.quiet import silence_known_warnings

    silence_known_warnings()
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("weights", nargs="*", type=Path, help="ncodec weights files of the architecture --arch")
    ap.add_argument("--arch", default="checkerboard")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--qualities", default="0,0.5,1")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="shipped weights, bundled sample image (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        args.weights, args.images = [shipped_weights(args.arch)], SAMPLES_DIR
        return args, [sample_path("image")], [float(q) for q in args.qualities.split(",")]
    if not args.weights or args.images is None:
        ap.error("need weights files and --images (or --smoke)")
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS["image"])
    files = files[: args.limit] if args.limit else files
    return args, files, [float(q) for q in args.qualities.split(",")]


def shipped_weights(arch: str) -> Path:
    """The weights file the codec ``arch`` uses by default (the shipped one)."""
    from ncodec.codecs import get

    return Path(get(arch).settings()["weights"])


def load_image(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """An image as a (1, 3, H, W) tensor in [0, 1], and the same padded to the models' stride."""
    from ncodec.codecs.image.base import pad_to
    from ncodec.media_io import read_image

    x = torch.tensor(read_image(path).pixels).permute(2, 0, 1)[None].float() / 255
    return x, pad_to(x, 64)


def main() -> None:
    from ncodec.codecs.image.codec import load_model

    args, files, qualities = image_model_args(__doc__.split("\n")[0])
    print(f"{len(files)} images from {args.images}; mean PSNR-RGB (dB) over the images")
    print("| weights | q | rounded latents | unquantized | gap |")
    print("|---|---:|---:|---:|---:|")
    for w in args.weights:
        model = load_model(args.arch, w)
        rows = {q: ([], []) for q in qualities}
        for f in files:
            x, xp = load_image(f)
            h, w_ = x.shape[-2:]
            with torch.no_grad():
                for q in qualities:
                    qv = torch.tensor([q])
                    y = model.g_a(xp) * model.gain.gain(qv)
                    inv = model.gain.inverse_gain(qv)
                    for k, lat in enumerate((torch.round(y), y)):
                        xr = model.g_s(lat * inv).clamp(0, 1)[..., :h, :w_]
                        rows[q][k].append(psnr(xr, x))
        for q in qualities:
            r, u = statistics.mean(rows[q][0]), statistics.mean(rows[q][1])
            print(f"| {w.name} | {q:g} | {r:.2f} | {u:.2f} | {u - r:.2f} |")


if __name__ == "__main__":
    main()
