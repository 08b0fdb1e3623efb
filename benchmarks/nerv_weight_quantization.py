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

``--smoke``: the same on a tiny fit of a few frames of the bundled sample (for tests).
"""

from __future__ import annotations

import argparse

import torch


def main() -> None:
    from nerv_checkpoint import add_arguments, load

    from ncodec.entropy import ZeroInflatedPrior
    from ncodec.codecs.video import bitstream as wc

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap, sample=60)
    ap.add_argument("--computed-embeddings", action="store_true",
                    help="run the encoder even when the checkpoint holds frozen quantized embeddings")
    args = ap.parse_args()
    fitted = load(args)
    idx = fitted.scored
    t = fitted.cfg.frames
    frozen = fitted.frozen and not args.computed_embeddings
    if frozen:
        emb = fitted.frozen_embeddings(idx)
    else:
        emb = fitted.computed_embeddings(idx)
    float_state = fitted.masked()
    k = wc.max_level(args.weight_bits)
    h, w = fitted.size

    def y_psnr(weights: dict[str, torch.Tensor]) -> float:
        return fitted.y_psnr(weights, emb)

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
