"""Shared by the NeRV diagnostics: a fit checkpoint and the clip it was fitted to, reloaded.

``nerv_qat_probe.py`` and ``nerv_weight_quantization.py`` start from an HNeRV fit's
``fit.safetensors`` (the model, the pruning masks and the frozen quantized embeddings, as the
fit checkpoints them under ``model.``: ``model.model.*``, ``model.masks.*``, ``model.emb_q``,
``model.emb_steps``) and the clip it was fitted to. The model is rebuilt from the same options
the fit was configured with (``--bpp``, ``--embed-share``, ... must match it). Run alone, this
prints what a checkpoint holds and the Y-PSNR of its float and of its stream-quantized weights::

    .venv/bin/python benchmarks/nerv_checkpoint.py runs/tuned300/X/fit.safetensors \\
        --clip ../shared/data/video/basketball_426x240.mp4 --frames 300 --embed-share 0.04 --fit-quant tensor

The tiny inputs of the NeRV scripts' ``--smoke`` modes come from here too: a few small frames
of the bundled video sample, and fits of two epochs on them (:func:`tiny_stream`,
:func:`tiny_checkpoint`).
"""

from __future__ import annotations

import argparse
import atexit
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: --smoke: frames and longest side of the bundled video sample, target rate, fit epochs
SMOKE_FRAMES, SMOKE_SIDE, SMOKE_BPP, SMOKE_EPOCHS = 4, 64, 0.5, 2
_MODEL, _MASKS = "model.model.", "model.masks."  # where the fit's checkpoint keeps model and masks


def tiny_clip():
    """The first :data:`SMOKE_FRAMES` frames of the bundled video sample, at most :data:`SMOKE_SIDE` wide."""
    from ncodec.media_io import read_video
    from ncodec.datasets.samples import sample_path

    return read_video(sample_path("video"), max_frames=SMOKE_FRAMES, max_side=SMOKE_SIDE)


def tiny_stream(arch: str = "hnerv", **options) -> bytes:
    """A NeRV-family stream of :func:`tiny_clip` from a fit of :data:`SMOKE_EPOCHS` epochs (a few seconds)."""
    from ncodec.codecs import get

    return get(arch, epochs=SMOKE_EPOCHS, reseeds=0, **options).encode(tiny_clip(), SMOKE_BPP)


def smoke_dir() -> Path:
    """A temporary folder, removed when the process exits."""
    d = Path(tempfile.mkdtemp(prefix="ncodec-smoke-"))
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def tiny_checkpoint() -> Path:
    """The ``fit.safetensors`` of a tiny HNeRV fit (codec defaults, :func:`tiny_clip`, :data:`SMOKE_BPP`)."""
    work = smoke_dir()
    tiny_stream("hnerv", workdir=str(work))
    return work / "fit.safetensors"


def add_arguments(ap: argparse.ArgumentParser, sample: int) -> None:
    ap.add_argument("checkpoint", nargs="?", help="a fit's fit.safetensors (HNeRV)")
    ap.add_argument("--clip", help="the clip the checkpoint was fitted to")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1, help="the fit's target rate (it sets the model's size)")
    ap.add_argument("--block", default="nerv", help="the fit's block")
    ap.add_argument("--embed-share", type=float, default=0.08)
    ap.add_argument("--weight-bits", type=int, default=6)
    ap.add_argument("--embed-bits", type=int, default=6)
    ap.add_argument("--fit-quant", default="channel", choices=["tensor", "channel"],
                    help="the fit's weight_quant (it sets the model's size); tensor for fits before it existed")
    ap.add_argument("--embed-coding", default="temporal", choices=["direct", "temporal"],
                    help="the fit's embed_coding (it sets the model's size); direct for fits before it existed")
    ap.add_argument("--weight-prior", default="adaptive", choices=["zero-inflated", "adaptive"],
                    help="the fit's weight_prior (it sets the model's size); zero-inflated for fits before it existed")
    ap.add_argument("--sample", type=int, default=sample, help="frames scored (evenly spaced)")
    ap.add_argument("--smoke", action="store_true",
                    help="fit a tiny HNeRV on a few frames of the bundled sample and use its checkpoint (for tests)")


def coded_weights(tensors: dict[str, torch.Tensor], bits: int, per_channel: bool) -> dict[str, torch.Tensor]:
    """What the decoder loads for ``tensors`` once a stream has quantized them (float32)."""
    from ncodec.codecs.video import bitstream as wc

    names = sorted(tensors)
    groups, codes, extra = wc.tensor_integers(tensors, bits, per_channel)
    ints = {n: g.reshape(tuple(tensors[n].shape)) for n, g in zip(names, groups)}
    return wc.dequantize_weights(ints, codes, extra, per_channel)


@dataclass
class Fitted:
    cfg: object  # INRConfig
    model: nn.Module  # HNeRV: embed (encoder) and decoder
    decoder: nn.Module
    masks: dict[str, torch.Tensor]  # pruning masks by decoder parameter name
    emb_q: np.ndarray  # frozen quantized embeddings, T x d x h x w (zeros if not frozen yet)
    emb_steps: list[float]  # their per-channel steps (zeros if not frozen yet)
    planes: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # Y, U, V of the clip (uint8)
    scored: torch.Tensor  # indices of the frames to score
    size: tuple[int, int]  # height, width

    @property
    def frozen(self) -> bool:
        """Whether the checkpoint holds frozen quantized embeddings (the fit reached its quantization-aware phase)."""
        return any(s != 0 for s in self.emb_steps)

    def mask(self, name: str) -> Optional[torch.Tensor]:
        return self.masks.get(name)

    def masked(self) -> dict[str, torch.Tensor]:
        """The decoder's weights with the pruning masks applied (what the stream codes)."""
        return {n: (p * self.mask(n) if self.mask(n) is not None else p).detach().clone()
                for n, p in self.decoder.named_parameters()}

    def targets(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Y (B x 1 x H x W) and U, V (B x 2 x Hc x Wc) of frames ``idx``, in [0, 1]."""
        y, u, v = self.planes
        return y[idx].float().unsqueeze(1) / 255.0, torch.stack([u[idx], v[idx]], 1).float() / 255.0

    def encoder_input(self, idx: torch.Tensor) -> torch.Tensor:
        """HNeRV's encoder input: YUV 4:4:4 (chroma repeated 2x2), replicate-padded to the model's size."""
        y, uv = self.targets(idx)
        h, w = y.shape[-2:]
        uv = uv.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :h, :w]
        ph, pw = self.cfg.padded
        x = F.pad(torch.cat([y, uv], 1), (0, pw - w, 0, ph - h), mode="replicate")
        return x.contiguous(memory_format=torch.channels_last)  # as the fit computes them

    def computed_embeddings(self, idx: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([self.model.embed(self.encoder_input(i.view(1))) for i in idx])

    def frozen_embeddings(self, idx: torch.Tensor) -> torch.Tensor:
        from ncodec.codecs.video import bitstream as wc

        return wc.dequantize_embeddings(self.emb_q[idx.numpy()], self.emb_steps)

    def y_psnr(self, weights: dict[str, torch.Tensor], emb: torch.Tensor) -> float:
        """Y-PSNR over the scored frames, ``emb`` holding their embeddings in order."""
        from torch.func import functional_call

        from ncodec.codecs.video.fitting import to_yuv420

        mse = 0.0
        with torch.no_grad():
            for j, i in enumerate(self.scored.tolist()):
                y, _ = self.targets(torch.tensor([i]))
                py, _ = to_yuv420(functional_call(self.decoder, weights, (emb[j:j + 1],)), *self.size)
                mse += float(((py - y) ** 2).mean())
        return -10 * math.log10(max(mse / len(self.scored), 1e-12))


def load(args: argparse.Namespace) -> Fitted:
    from safetensors.torch import load_file

    from ncodec.codecs.video.config import configure
    from ncodec.codecs.video.fitting import build_model, decoder_module, prunable
    from ncodec.media_io import read_video
    from ncodec.datasets.samples import sample_path

    torch.set_num_threads(1)
    if args.smoke and args.checkpoint is None:  # made once: callers may load afresh several times
        args.checkpoint, args.clip = str(tiny_checkpoint()), str(sample_path("video"))
        args.frames, args.max_side, args.bpp = SMOKE_FRAMES, SMOKE_SIDE, SMOKE_BPP
    if args.checkpoint is None or args.clip is None:
        raise SystemExit("need a checkpoint and --clip (or --smoke)")
    yuv = read_video(args.clip, max_frames=args.frames, max_side=args.max_side).to_yuv420()
    t, h, w = yuv.planes[0].shape
    cfg = configure("hnerv", t, h, w, args.bpp * t * h * w, block=args.block, weight_bits=args.weight_bits,
                    embed_bits=args.embed_bits, embed_share=args.embed_share, weight_quant=args.fit_quant,
                    embed_coding=args.embed_coding, weight_prior=args.weight_prior)
    model = build_model(cfg)
    tensors = load_file(args.checkpoint)
    try:
        model.load_state_dict({k[len(_MODEL):]: v for k, v in tensors.items() if k.startswith(_MODEL)})
    except RuntimeError as exc:
        raise SystemExit(f"{args.checkpoint} does not fit the model these options configure "
                         f"(check --bpp, --embed-share, --fit-quant, ...): {str(exc)[:300]}") from None
    decoder = decoder_module(model)
    masks = {k[len(_MASKS):].replace("__", "."): v for k, v in tensors.items() if k.startswith(_MASKS)}
    expected = {n for n, p in decoder.named_parameters() if prunable(n, p)}
    if set(masks) != expected:
        odd = sorted(set(masks) ^ expected)[:3]
        raise SystemExit(f"{args.checkpoint}: pruning masks for {odd} do not match the model")
    scored = torch.linspace(0, t - 1, min(args.sample, t)).round().long()
    planes = tuple(torch.from_numpy(np.ascontiguousarray(p)) for p in yuv.planes)
    return Fitted(cfg, model, decoder, masks, tensors["model.emb_q"].numpy(),
                  [float(s) for s in tensors["model.emb_steps"].tolist()], planes, scored, (h, w))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap, sample=60)
    args = ap.parse_args()
    fitted = load(args)
    cfg, idx = fitted.cfg, fitted.scored
    weights = fitted.masked()
    emb = fitted.frozen_embeddings(idx) if fitted.frozen else fitted.computed_embeddings(idx)
    n = sum(p.numel() for p in weights.values())
    zeros = sum(int((p == 0).sum()) for p in weights.values())
    coded = coded_weights(weights, cfg.weight_bits, cfg.weight_quant == "channel")
    h, w = fitted.size
    print(f"{Path(args.checkpoint).name}: HNeRV {w}x{h}, {cfg.frames} frames, {len(idx)} frames scored")
    print("| weights | zeros | embeddings | Y-PSNR float (dB) | Y-PSNR stream-quantized weights (dB) |")
    print("|---:|---:|---|---:|---:|")
    print(f"| {n:,} | {zeros / n:.1%} | {'frozen' if fitted.frozen else 'computed'} {cfg.embed_dim}x{cfg.grid[0]}x"
          f"{cfg.grid[1]} | {fitted.y_psnr(weights, emb):.2f} | {fitted.y_psnr(coded, emb):.2f} |")


if __name__ == "__main__":
    main()
