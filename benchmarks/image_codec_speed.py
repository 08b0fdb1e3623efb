"""Encode/decode time of ncodec's learned image codecs vs compressai on the same weights.

For each architecture CompressAI also has (factorized, scale hyperprior, mean-scale
hyperprior) a CompressAI model is built (N=128, M=192), its state dict is loaded into ncodec
through the interop path, and both code the same 768x512 image (kodim23 when
``../shared/data`` is present, else a synthetic one): ratio ncodec / compressai, median of
``--repeat`` runs, 2 torch threads for compressai (ncodec decodes on one thread by design,
for thread-count-independent output). The checkerboard model has no CompressAI twin and is
timed alone. By default the weights are random-initialised and perturbed (timing, not quality);
``--trained`` takes the shipped weights instead, and gives CompressAI the same network at quality
``--q`` (the per-channel gain folded into the last analysis and first synthesis layers, whose
latents are then exactly ncodec's), so both code the latents of a trained model. ``--smoke``: the
bundled 256x256 sample image, one run (for tests).
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


def compressai_twin_state(model, q: float) -> dict:
    """A CompressAI state dict computing exactly ``model``'s latents at quality ``q``: the gain
    ``y = g_a(x) * gain(q)`` folded into the last analysis conv, ``inverse_gain(q)`` into the
    first synthesis deconv, the factorized prior renamed ``entropy_bottleneck``."""
    state = {}
    with torch.no_grad():
        qt = torch.tensor([q])
        gain, inv = model.gain.gain(qt)[0, :, 0, 0], model.gain.inverse_gain(qt)[0, :, 0, 0]
        for k, v in model.state_dict().items():
            if k.startswith("gain."):
                continue
            for prior in ("y_prior.bottleneck.", "z_prior.bottleneck."):
                if k.startswith(prior):
                    k = "entropy_bottleneck." + k[len(prior):]
            v = v.clone()
            if k in ("g_a.6.weight", "g_a.6.bias"):
                v *= gain.view(-1, *([1] * (v.dim() - 1)))
            if k == "g_s.0.weight":  # ConvTranspose2d: (in, out, kh, kw)
                v *= inv.view(-1, 1, 1, 1)
            state[k] = v
    return state


def main() -> None:
    import compressai.models

    import ncodec
    from ncodec.codecs.image.codec import CheckerboardCodec, FactorizedCodec, MeanScaleCodec, ScaleHyperpriorCodec
    from ncodec.checkpoint import save_weights
    from ncodec.codecs.image.registry import build_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trained", action="store_true", help="the shipped weights (ncodec/weights/) on both sides")
    ap.add_argument("--q", type=float, default=0.5, help="quality with --trained")
    ap.add_argument("--smoke", action="store_true", help="the bundled sample image, one run (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.smoke:
        from ncodec.datasets.samples import load_sample

        px, src, args.repeat = load_sample("image").pixels, "bundled sample", 1
    elif KODIM.exists():
        from PIL import Image as P

        px = np.array(P.open(KODIM).convert("RGB"))
        src = "kodim23"
    else:
        y, x = np.mgrid[0:512, 0:768]
        px = np.clip(128 + 80 * np.sin(x / 17)[..., None] * np.cos(y / 23)[..., None], 0, 255).astype(np.uint8)
        px = np.repeat(px, 3, axis=2)
        src = "synthetic"
    img = ncodec.Image(px)
    xt = torch.tensor(px).permute(2, 0, 1)[None].float() / 255
    rows = []
    tmp = Path(tempfile.mkdtemp())
    q = args.q if args.trained else 0.5
    for zoo, codec_cls in (("FactorizedPrior", FactorizedCodec), ("ScaleHyperprior", ScaleHyperpriorCodec),
                           ("MeanScaleHyperprior", MeanScaleCodec)):
        torch.manual_seed(0)
        ref = getattr(compressai.models, zoo)(128, 192).eval()
        if args.trained:
            codec = codec_cls()
            if not codec.settings()["weights"].endswith(".safetensors"):
                print(f"{codec.name}: no shipped weights, skipped")
                continue
            ref.load_state_dict(compressai_twin_state(codec.model, q), strict=False)
        else:
            with torch.no_grad():
                for p in ref.parameters():
                    p.mul_(1 + 0.05 * torch.randn_like(p))
        ref.update(force=True)
        if not args.trained:
            torch.save(ref.state_dict(), tmp / f"{zoo}.pth")
            codec = codec_cls(weights=tmp / f"{zoo}.pth")
        codec.encode(img, q)  # warm up (tables, lazy loading)
        with torch.no_grad():
            te_ref, out = timed(lambda: ref.compress(xt), args.repeat)
            td_ref, _ = timed(lambda: ref.decompress(out["strings"], out["shape"]), args.repeat)
        te, data = timed(lambda: codec.encode(img, q), args.repeat)
        td, _ = timed(lambda: codec.decode(data), args.repeat)
        rows.append((codec.name, te, td, te_ref, td_ref))
    if args.trained:
        codec = CheckerboardCodec()
    else:
        torch.manual_seed(0)
        model = build_model("checkerboard")
        save_weights(model.state_dict(), tmp / "cb.safetensors", {"config": model.config()})
        codec = CheckerboardCodec(weights=tmp / "cb.safetensors")
    codec.encode(img, q)
    te, data = timed(lambda: codec.encode(img, q), args.repeat)
    td, _ = timed(lambda: codec.decode(data), args.repeat)
    rows.append(("checkerboard", te, td, None, None))
    kind = f"shipped weights at q={q:g}" if args.trained else "random weights"
    print(f"{src} ({px.shape[1]}x{px.shape[0]}), N=128 M=192, {kind}, median of {args.repeat}; "
          "seconds and ratio to compressai")
    print("| codec | ncodec encode s | ncodec decode s | compressai encode s | compressai decode s | encode ratio | decode ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, te, td, ter, tdr in rows:
        if ter is None:
            print(f"| {name} | {te:.2f} | {td:.2f} | – | – | – | – |")
        else:
            print(f"| {name} | {te:.2f} | {td:.2f} | {ter:.2f} | {tdr:.2f} | {te / ter:.2f} | {td / tdr:.2f} |")


if __name__ == "__main__":
    main()
