"""Is ncodec's JPEG 2000 wrapper the reason its Kodak BD-rate misses the reference by ~5 points?

Two checks, on every third Kodak image:

1. OpenJPEG encoder options (through Pillow) that could plausibly differ from the reference:
   mean PSNR at 0.25/0.5/1/2 bpp for each variant. A variant better than ncodec's settings by
   ~0.2 dB would explain a 5-point BD-rate gap.
2. An independent wrapper of OpenJPEG (``imagecodecs``, fixed-PSNR rate control instead of
   Pillow's fixed-ratio mode): per-image BD-rate of imagecodecs against ncodec's ``jpeg2000``
   codec. Needs ``pip install imagecodecs`` (not an ncodec dependency); skipped without it.

    .venv/bin/python benchmarks/jpeg2000_crosscheck.py --images ../shared/data/images/kodak

``--smoke``: the bundled sample image only (for tests).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

VARIANTS: dict[str, dict] = {
    "ncodec (6 levels, 64x64 blocks, LRCP, 1 layer)": {},
    "5 levels": {"num_resolutions": 5},
    "7 levels": {"num_resolutions": 7},
    "32x32 code-blocks": {"codeblock_size": (32, 32)},
    "128x128 precincts": {"precinct_size": (128, 128)},
    "RPCL progression": {"progression": "RPCL"},
    "3 quality layers": {"layers": 3},
}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def _pillow(im: np.ndarray, bpp: float, extra: dict) -> tuple[float, float]:
    kw = dict(quality_mode="rates", irreversible=True, mct=1, no_jp2=True, num_resolutions=6)
    extra = dict(extra)
    layers = extra.pop("layers", 1)
    kw["quality_layers"] = [24.0 / bpp * 2 ** (layers - 1 - i) for i in range(layers)]
    kw.update(extra)
    buf = io.BytesIO()
    Image.fromarray(im).save(buf, "JPEG2000", **kw)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return 8.0 * len(buf.getvalue()) / (im.shape[0] * im.shape[1]), _psnr(im, out)


def main() -> None:
    from ncodec.codecs import get
    from ncodec.media_io import read_image
    from ncodec.eval.bjontegaard import bd_rate
    from ncodec.eval.metrics import psnr

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=Path)
    ap.add_argument("--every", type=int, default=3, help="use every N-th image")
    ap.add_argument("--smoke", action="store_true", help="the bundled sample image only (for tests)")
    args = ap.parse_args()
    if args.smoke:
        from ncodec.datasets.samples import sample_path

        files = [sample_path("image")]
    elif args.images is None:
        ap.error("need --images (or --smoke)")
    else:
        files = sorted(p for p in args.images.iterdir() if p.suffix.lower() == ".png")[:: args.every]
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    rates = (0.25, 0.5, 1.0, 2.0)

    print(f"1. OpenJPEG options, {len(files)} images: mean bpp / mean PSNR-RGB (dB)\n")
    print("| variant | " + " | ".join(f"{r:g} bpp" for r in rates) + " |")
    print("|---|" + "---:|" * len(rates))
    for name, extra in VARIANTS.items():
        cells = []
        for r in rates:
            pts = np.array([_pillow(im, r, extra) for im in images])
            cells.append(f"{pts[:, 0].mean():.3f} / {pts[:, 1].mean():.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

    try:
        import imagecodecs
    except ImportError:
        print("\n2. skipped: imagecodecs is not installed (pip install imagecodecs)")
        return
    print(f"\n2. imagecodecs {imagecodecs.__version__} (OpenJPEG {imagecodecs.jpeg2k_version()}) "
          "vs ncodec jpeg2000, per-image BD-rate (PSNR-RGB)\n")
    codec = get("jpeg2000")
    bds = []
    for f, im in zip(files, images):
        media = read_image(f)
        n = im.shape[0] * im.shape[1]
        nr, npsnr = [], []
        for q in (0.2, 0.35, 0.6, 1.0, 1.8, 3.0):
            data = codec.encode(media, q)
            nr.append(8.0 * len(data) / n)
            npsnr.append(psnr(media, codec.decode(data)))
        ir, ip = [], []
        for level in np.linspace(min(npsnr) + 0.3, max(npsnr) - 0.3, 6):
            b = imagecodecs.jpeg2k_encode(im, level=float(level), codecformat="J2K", reversible=False, mct=True)
            ir.append(8.0 * len(b) / n)
            ip.append(_psnr(im, imagecodecs.jpeg2k_decode(b)))
        bds.append(bd_rate(nr, npsnr, ir, ip))
        print(f"- {f.name}: {bds[-1]:+.2f} %", flush=True)
    print(f"\nmean: {np.mean(bds):+.2f} % (positive = imagecodecs needs more bits than ncodec)")


if __name__ == "__main__":
    main()
