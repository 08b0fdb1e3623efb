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
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.func import functional_call


def main() -> None:
    from ncodec.checkpoint import load_checkpoint
    from ncodec.datasets.io import read_video
    from ncodec.inr import weight_coding as wc
    from ncodec.inr.config import configure
    from ncodec.inr.fitting import _Frames, _State, build_model, decoder_module, distortion, to_yuv420

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--clip", required=True)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1)
    ap.add_argument("--embed-share", type=float, default=0.08)
    ap.add_argument("--weight-bits", type=int, default=6)
    ap.add_argument("--fit-quant", default="channel", choices=["tensor", "channel"],
                    help="the fit's weight_quant (it sets the model's size); tensor for fits before it existed")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--sample", type=int, default=40, help="frames scored (evenly spaced)")
    ap.add_argument("--variants", nargs="+", default=["tensor:1e-4"], help="QUANT:LR, QUANT = tensor|channel")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cpu = torch.device("cpu")

    yuv = read_video(args.clip, max_frames=args.frames, max_side=args.max_side).to_yuv420()
    t, h, w = yuv.planes[0].shape
    cfg = configure("hnerv", t, h, w, args.bpp * t * h * w, weight_bits=args.weight_bits,
                    embed_share=args.embed_share, weight_quant=args.fit_quant)
    data = _Frames(yuv.planes, cfg)
    idx = torch.linspace(0, t - 1, min(args.sample, t)).round().long()
    print(f"| quantizer | lr | Y-PSNR before (dB) | after {args.steps} steps (dB) |\n|---|---:|---:|---:|", flush=True)
    for variant in args.variants:
        quant, lr = variant.split(":")
        per_channel, lr = quant == "channel", float(lr)
        model = build_model(cfg)
        state = _State(model, cfg, torch.Generator())
        load_checkpoint(args.checkpoint, state, {})
        dec = decoder_module(model)
        with torch.no_grad():
            emb = torch.cat([model.embed(data.encoder_input(torch.tensor([i]), cpu)) for i in range(t)])
            q, steps = wc.quantize_embeddings(emb, cfg.embed_bits)
            emb = wc.dequantize_embeddings(q, steps)
            for n, p in dec.named_parameters():
                m = state.mask(n)
                if m is not None:
                    p.mul_(m)

        def score() -> float:
            sd = {n: p.detach() for n, p in dec.named_parameters()}
            qd = wc.quantized_tensors(sd, cfg.weight_bits, per_channel)
            mse = 0.0
            with torch.no_grad():
                for j in idx.tolist():
                    y, _ = data.targets(torch.tensor([j]), cpu)
                    py, _ = to_yuv420(functional_call(dec, qd, (emb[j:j + 1],)), h, w)
                    mse += float(((py - y) ** 2).mean())
            return -10 * math.log10(mse / len(idx))

        before = score()
        opt = torch.optim.Adam(dec.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(0)
        for s in range(args.steps):
            for g in opt.param_groups:
                g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / args.steps)))
            i = torch.randint(0, t, (1,), generator=gen)
            y, uv = data.targets(i, cpu)
            params = {}
            for n, p in dec.named_parameters():
                m = state.mask(n)
                params[n] = wc.fake_quantize(p * m if m is not None else p, cfg.weight_bits, per_channel)
            loss = distortion(functional_call(dec, params, (emb[i],)), y, uv)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for n, p in dec.named_parameters():
                    m = state.mask(n)
                    if m is not None:
                        p.mul_(m)
        print(f"| {quant} | {lr:g} | {before:.2f} | {score():.2f} |", flush=True)


if __name__ == "__main__":
    main()
