"""Encode/decode time of ncodec's learned image codecs vs compressai on the same weights.

For each architecture CompressAI also has (factorized, scale hyperprior, mean-scale
hyperprior) a CompressAI model is built (N=128, M=192), its state dict is loaded into ncodec
through the interop path, and both code the same 768x512 image (kodim23 when
``../shared/data`` is present, else a synthetic one): ratio ncodec / compressai, median of
``--repeat`` runs, 2 torch threads for compressai (ncodec decodes on one thread by design,
for thread-count-independent output). The checkerboard model has no CompressAI twin and is
timed alone. Weights are random-initialised and perturbed: timing, not quality.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

KODIM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images" / "kodak" / "kodim23.png"


def timed(fn, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main() -> None:
    import compressai.models

    import ncodec
    from ncodec.codecs.image.codec import CheckerboardCodec, FactorizedCodec, MeanScaleCodec, ScaleHyperpriorCodec
    from ncodec.checkpoint import save_weights
    from ncodec.codecs.image.registry import build_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    if KODIM.exists():
        from PIL import Image as P

        px = np.asarray(P.open(KODIM).convert("RGB"))
        src = "kodim23"
    else:
        y, x = np.mgrid[0:512, 0:768]
        px = np.clip(128 + 80 * np.sin(x / 17)[..., None] * np.cos(y / 23)[..., None], 0, 255).astype(np.uint8)
        px = np.repeat(px, 3, axis=2)
        src = "synthetic"
    img = ncodec.Image(px)
    xt = torch.from_numpy(px).permute(2, 0, 1)[None].float() / 255
    rows = []
    tmp = Path(tempfile.mkdtemp())
    for zoo, codec_cls in (("FactorizedPrior", FactorizedCodec), ("ScaleHyperprior", ScaleHyperpriorCodec),
                           ("MeanScaleHyperprior", MeanScaleCodec)):
        torch.manual_seed(0)
        ref = getattr(compressai.models, zoo)(128, 192).eval()
        with torch.no_grad():
            for p in ref.parameters():
                p.mul_(1 + 0.05 * torch.randn_like(p))
        ref.update(force=True)
        torch.save(ref.state_dict(), tmp / f"{zoo}.pth")
        codec = codec_cls(weights=tmp / f"{zoo}.pth")
        codec.encode(img, 0.5)  # warm up (tables, lazy loading)
        with torch.no_grad():
            te_ref, out = timed(lambda: ref.compress(xt), args.repeat)
            td_ref, _ = timed(lambda: ref.decompress(out["strings"], out["shape"]), args.repeat)
        te, data = timed(lambda: codec.encode(img, 0.5), args.repeat)
        td, _ = timed(lambda: codec.decode(data), args.repeat)
        rows.append((codec.name, te, td, te_ref, td_ref))
    torch.manual_seed(0)
    model = build_model("checkerboard")
    save_weights(model.state_dict(), tmp / "cb.safetensors", {"config": model.config()})
    codec = CheckerboardCodec(weights=tmp / "cb.safetensors")
    codec.encode(img, 0.5)
    te, data = timed(lambda: codec.encode(img, 0.5), args.repeat)
    td, _ = timed(lambda: codec.decode(data), args.repeat)
    rows.append(("checkerboard", te, td, None, None))
    print(f"{src} ({px.shape[1]}x{px.shape[0]}), N=128 M=192, median of {args.repeat}; seconds and ratio to compressai")
    print("| codec | ncodec encode s | ncodec decode s | compressai encode s | compressai decode s | encode ratio | decode ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, te, td, ter, tdr in rows:
        if ter is None:
            print(f"| {name} | {te:.2f} | {td:.2f} | – | – | – | – |")
        else:
            print(f"| {name} | {te:.2f} | {td:.2f} | {ter:.2f} | {tdr:.2f} | {te / ter:.2f} | {td / tdr:.2f} |")


if __name__ == "__main__":
    main()
