"""What quantizing a fitted NeRV-family decoder costs, per quantizer, on the frames it was fitted to.

Reads a fit checkpoint (``WORKDIR/fit.safetensors`` of an HNeRV fit, e.g. taken just before its
quantization-aware phase) and the clip it was fitted to, and prints the Y-PSNR of the decoder

* with its float weights (the embeddings as checkpointed: quantized once frozen, else computed),
* with every tensor quantized one step per tensor, ``max|w| / K`` (what the stream does),
* one step per output channel, ``max|w_c| / K``,
* one step per tensor (or output channel) from the RMS, ``s = c * rms(w)``, not clamped (the
  prior escapes the few values beyond ``K``),

together with each quantizer's ideal coded bits per weight (one zero-inflated Laplace per
group, as shipped), so rate and distortion are read side by side::

    .venv/bin/python benchmarks/nerv_weight_quantization.py runs/tuned300/X/fit.safetensors \\
        --clip ../shared/data/video/basketball_426x240.mp4 --frames 300 --bpp 0.1 --embed-share 0.04 --fit-quant tensor
"""

from __future__ import annotations

import argparse
import math

import torch


def main() -> None:
    from ncodec.checkpoint import load_checkpoint
    from ncodec.datasets.io import read_video
    from ncodec.entropy import ZeroInflatedPrior
    from ncodec.inr import weight_coding as wc
    from ncodec.inr.config import configure
    from ncodec.inr.fitting import _Frames, _State, build_model, decoder_module, to_yuv420

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
    ap.add_argument("--sample", type=int, default=60, help="frames scored (evenly spaced)")
    ap.add_argument("--computed-embeddings", action="store_true",
                    help="run the encoder even when the checkpoint holds frozen quantized embeddings")
    args = ap.parse_args()
    torch.set_num_threads(1)

    yuv = read_video(args.clip, max_frames=args.frames, max_side=args.max_side).to_yuv420()
    t, h, w = yuv.planes[0].shape
    cfg = configure("hnerv", t, h, w, args.bpp * t * h * w, weight_bits=args.weight_bits,
                    embed_share=args.embed_share, weight_quant=args.fit_quant)
    model = build_model(cfg)
    state = _State(model, cfg, torch.Generator())
    load_checkpoint(args.checkpoint, state, {})
    dec = decoder_module(model).eval()
    data = _Frames(yuv.planes, cfg)
    idx = torch.linspace(0, t - 1, min(args.sample, t)).round().long()
    frozen = bool(state.emb_steps.any()) and not args.computed_embeddings
    with torch.no_grad():
        if frozen:
            emb = wc.dequantize_embeddings(state.emb_q[idx].numpy(), state.emb_steps.tolist())
        else:
            emb = torch.cat([model.embed(data.encoder_input(i.view(1), torch.device("cpu"))) for i in idx])
    float_state = {n: (p * state.mask(n) if state.mask(n) is not None else p).detach().clone()
                   for n, p in dec.named_parameters()}
    k = wc.max_level(args.weight_bits)

    def y_psnr(weights: dict[str, torch.Tensor]) -> float:
        dec.load_state_dict(weights, strict=False)
        mse = 0.0
        with torch.no_grad():
            for j in range(len(idx)):
                y, _ = data.targets(idx[j:j + 1], torch.device("cpu"))
                py, _ = to_yuv420(dec(emb[j:j + 1]), h, w)
                mse += float(((py - y) ** 2).mean())
        return -10 * math.log10(mse / len(idx))

    def scheme(name: str, step_of, levels: int = k, clamp: bool = True) -> None:
        prior = ZeroInflatedPrior(levels)
        weights, bits, count = {}, 0.0, 0
        for n, p in float_state.items():
            s = step_of(p, levels).clamp(min=1e-12)
            q = torch.round(p / s)
            q = q.clamp(-levels, levels) if clamp else q  # unclamped: the prior escapes the rare large ones
            weights[n] = q * s
            q = q.to(torch.int64).numpy()
            groups = [q.reshape(-1)] if s.numel() == 1 else [q[c].reshape(-1) for c in range(q.shape[0])]
            bits += prior.bits(groups, [prior.fit(g) for g in groups]) + 16 * s.numel()
            count += p.numel()
        print(f"| {name} | {y_psnr(weights):.2f} | {bits / count:.3f} | {bits / 8 / 1000:.1f} |", flush=True)

    def per_channel(p: torch.Tensor, levels: int) -> torch.Tensor:
        if p.dim() < 2:
            return p.abs().max() / levels
        return p.abs().flatten(1).max(1).values.view(-1, *([1] * (p.dim() - 1))) / levels

    print(f"{t} frames {w}x{h}, {sum(p.numel() for p in float_state.values()):,} weights, "
          f"embeddings {'frozen' if frozen else 'computed'}, {len(idx)} frames scored")
    print("| weights | Y-PSNR (dB) | bits / weight | kB |\n|---|---:|---:|---:|")
    print(f"| float | {y_psnr(float_state):.2f} | | |", flush=True)
    for b in (5, 6, 7, 8):
        scheme(f"{b} bit, per tensor, max/K (stream)", lambda p, lv: p.abs().max() / lv, wc.max_level(b))
    for b in (5, 6, 7):
        scheme(f"{b} bit, per output channel, max/K", per_channel, wc.max_level(b))
    for c in (0.15, 0.2, 0.25, 0.3):
        scheme(f"per tensor, {c} rms, not clamped", lambda p, lv, c=c: c * p.pow(2).mean().sqrt(), clamp=False)

    def channel_rms(p: torch.Tensor, c: float) -> torch.Tensor:
        if p.dim() < 2:
            return c * p.pow(2).mean().sqrt()
        return c * p.flatten(1).pow(2).mean(1).sqrt().clamp(min=1e-12).view(-1, *([1] * (p.dim() - 1)))

    for c in (0.2, 0.3):
        scheme(f"per output channel, {c} rms, not clamped", lambda p, lv, c=c: channel_rms(p, c), clamp=False)


if __name__ == "__main__":
    main()
