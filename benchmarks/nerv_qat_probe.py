"""Can quantization-aware fine-tuning win back what quantizing a fitted NeRV-family decoder costs?

Starts from a fit checkpoint taken before its quantization-aware phase (``fit.safetensors`` of an
HNeRV fit), freezes the embeddings at their quantized values as the fit does, and runs only a
quantization-aware phase (straight-through ``weight_bits`` weights, the pruning masks kept) for
``--steps`` steps at a given learning rate (cosine to a tenth), per tensor or per output channel.
Prints the Y-PSNR of the stream's weights (really quantized) on evenly spaced frames before and
after, so QAT schedules can be compared in minutes instead of whole fits::

    .venv/bin/python benchmarks/nerv_qat_probe.py runs/tuned300/X/fit.safetensors \\
        --clip ../shared/data/video/basketball_426x240.mp4 --frames 300 --embed-share 0.04 --fit-quant tensor \\
        --variants tensor:1e-4 tensor:1e-3 channel:1e-4

``--smoke``: a tiny fit of a few frames of the bundled sample, a few steps per variant (for tests).
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.func import functional_call


def main() -> None:
    from nerv_checkpoint import add_arguments, coded_weights, load

    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.fitting import distortion

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap, sample=40)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--variants", nargs="+", default=["tensor:1e-4"], help="QUANT:LR, QUANT = tensor|channel")
    args = ap.parse_args()
    if args.smoke:
        args.steps, args.variants = 3, ["tensor:1e-4", "channel:1e-4"]
    print(f"| quantizer | lr | Y-PSNR before (dB) | after {args.steps} steps (dB) |\n|---|---:|---:|---:|", flush=True)
    for variant in args.variants:
        quant, lr = variant.split(":")
        per_channel, lr = quant == "channel", float(lr)
        fitted = load(args)  # afresh for every variant
        cfg, dec = fitted.cfg, fitted.decoder
        t = cfg.frames
        q, steps = wc.quantize_embeddings(fitted.computed_embeddings(torch.arange(t)), cfg.embed_bits)
        emb = wc.dequantize_embeddings(q, steps)  # frozen at their quantized values, as the fit does

        def apply_masks() -> None:
            with torch.no_grad():
                for n, p in dec.named_parameters():
                    m = fitted.mask(n)
                    if m is not None:
                        p.mul_(m)

        apply_masks()

        def score() -> float:
            return fitted.y_psnr(coded_weights(fitted.masked(), cfg.weight_bits, per_channel), emb[fitted.scored])

        before = score()
        opt = torch.optim.Adam(dec.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(0)
        for s in range(args.steps):
            for g in opt.param_groups:
                g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / args.steps)))
            i = torch.randint(0, t, (1,), generator=gen)
            y, uv = fitted.targets(i)
            params = {}
            for n, p in dec.named_parameters():
                m = fitted.mask(n)
                params[n] = wc.fake_quantize(p * m if m is not None else p, cfg.weight_bits, per_channel)
            loss = distortion(functional_call(dec, params, (emb[i],)), y, uv)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            apply_masks()
        print(f"| {quant} | {lr:g} | {before:.2f} | {score():.2f} |", flush=True)


if __name__ == "__main__":
    main()
