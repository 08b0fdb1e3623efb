"""Shared by the NeRV diagnostics: a fit checkpoint and the clip it was fitted to, reloaded."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch
from torch import nn


def add_arguments(ap: argparse.ArgumentParser, sample: int) -> None:
    ap.add_argument("checkpoint", help="a fit's fit.safetensors (HNeRV)")
    ap.add_argument("--clip", required=True)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--bpp", type=float, default=0.1, help="the fit's target rate (it sets the model's size)")
    ap.add_argument("--embed-share", type=float, default=0.08)
    ap.add_argument("--weight-bits", type=int, default=6)
    ap.add_argument("--fit-quant", default="channel", choices=["tensor", "channel"],
                    help="the fit's weight_quant (it sets the model's size); tensor for fits before it existed")
    ap.add_argument("--sample", type=int, default=sample, help="frames scored (evenly spaced)")


@dataclass
class Fitted:
    cfg: object  # INRConfig
    model: nn.Module
    state: nn.Module  # the fit's _State: masks, frozen embeddings
    decoder: nn.Module
    frames: object  # the fit's _Frames
    scored: torch.Tensor  # indices of the frames to score
    size: tuple[int, int]  # height, width

    def masked(self) -> dict[str, torch.Tensor]:
        """The decoder's weights with the pruning masks applied (what the stream codes)."""
        return {n: (p * self.state.mask(n) if self.state.mask(n) is not None else p).detach().clone()
                for n, p in self.decoder.named_parameters()}

    def computed_embeddings(self, idx: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([self.model.embed(self.frames.encoder_input(i.view(1), torch.device("cpu"))) for i in idx])

    def y_psnr(self, weights: dict[str, torch.Tensor], emb: torch.Tensor) -> float:
        """Y-PSNR over the scored frames, ``emb`` holding their embeddings in order."""
        from torch.func import functional_call

        from ncodec.codecs.video.fitting import to_yuv420

        mse = 0.0
        with torch.no_grad():
            for j, i in enumerate(self.scored.tolist()):
                y, _ = self.frames.targets(torch.tensor([i]), torch.device("cpu"))
                py, _ = to_yuv420(functional_call(self.decoder, weights, (emb[j:j + 1],)), *self.size)
                mse += float(((py - y) ** 2).mean())
        return -10 * math.log10(mse / len(self.scored))


def load(args: argparse.Namespace) -> Fitted:
    from ncodec.checkpoint import load_checkpoint
    from ncodec.datasets.io import read_video
    from ncodec.codecs.video.config import configure
    from ncodec.codecs.video.fitting import _Frames, _State, build_model, decoder_module

    torch.set_num_threads(1)
    yuv = read_video(args.clip, max_frames=args.frames, max_side=args.max_side).to_yuv420()
    t, h, w = yuv.planes[0].shape
    cfg = configure("hnerv", t, h, w, args.bpp * t * h * w, weight_bits=args.weight_bits,
                    embed_share=args.embed_share, weight_quant=args.fit_quant)
    model = build_model(cfg)
    state = _State(model, cfg, torch.Generator())
    load_checkpoint(args.checkpoint, state, {})
    scored = torch.linspace(0, t - 1, min(args.sample, t)).round().long()
    return Fitted(cfg, model, state, decoder_module(model), _Frames(yuv.planes, cfg), scored, (h, w))
