"""NeRV-family video codecs: encoding fits a network to the video; the stream is the network.

``nerv`` (frame index -> frame) and ``hnerv`` (a coded embedding per frame -> frame), each
with ``block=nerv`` (the papers' upsampling blocks) or ``block=enhanced`` (NeRV++-style
skip + separable refinement, :mod:`ncodec.codecs.video.blocks`).

The quality knob is the **target rate in bits per pixel** over all frames: the model is
sized for it (:func:`ncodec.codecs.video.config.configure`) and the coded size lands near it (the
CLI's ``--size-kb`` converts a file size into this knob). Fitting options are codec options,
e.g. ``hnerv:epochs=100:block=enhanced``; see :class:`~ncodec.codecs.video.fitting.FitOptions`.

Stream: header params ``config`` (the model), the counts and plainly-stored sizes of the
weights and embeddings (for comparison: ``ncodec info`` shows the saving), and ``fit`` (steps,
seconds, device, the Y-PSNR measured on the decoded frames at encode time); chunks
``weights`` and ``embeddings`` (HNeRV) hold per-group quantization steps and prior
parameters followed by the entropy-coded integers (:mod:`ncodec.codecs.video.bitstream`). Decoding renders the frames deterministically
(:mod:`ncodec.codecs.video.rendering`).

With ``workdir`` set (the CLI uses ``OUTPUT.fit/``), fitting checkpoints there and an
interrupted encode resumes.
"""

from __future__ import annotations

import math
import time
from dataclasses import fields
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np

from ncodec.codecs.base import LearnedCodec, parse_memory
from ncodec.codecs.video.config import BLOCKS, EMBED_CODINGS, WEIGHT_PRIORS, WEIGHT_QUANTS, FitOptions
from ncodec.container import Container
from ncodec.errors import CorruptStreamError, MediaError, NcodecError, OptionError
from ncodec.latents import Latents
from ncodec.media import Video

WEIGHTS_CHUNK, EMBED_CHUNK = "weights", "embeddings"
#: latents name the weight tensors "weights.<parameter name>"
WEIGHT_PREFIX = "weights."
#: fitting options a user may set (``hnerv:epochs=100``), with their types: FitOptions' fields
#: less the device (its own argument) and two internal schedule constants
_FIT_KEYS = {f.name: type(f.default) for f in fields(FitOptions) if f.name not in ("device", "warmup", "collapse_check")}


def _as_bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


class _INRVideoCodec(LearnedCodec):
    kind = "video"
    quality_is_rate = True
    rate_is_target = True
    fits_at_encode = True
    quality_range = (0.001, 8.0)
    default_quality = 0.1
    quality_unit = "target bits per pixel over all frames (larger is better)"
    arch: ClassVar[str]

    def __init__(self, block: str = "nerv", device: str = "auto", workdir: Optional[str | Path] = None,
                 progress: Any = False, weight_bits: int | str = 6, embed_bits: int | str = 6,
                 embed_share: float | str = 0.08, weight_quant: str = "channel", embed_coding: str = "temporal",
                 weight_prior: str = "adaptive", max_memory: Optional[int | str] = None, **fit_options: Any) -> None:
        if max_memory is not None:
            self.max_decode_memory = parse_memory(max_memory)

        if block not in BLOCKS:
            raise OptionError(f"{self.name} block must be one of {', '.join(BLOCKS)}, got {block!r}")
        unknown = set(fit_options) - set(_FIT_KEYS)
        if unknown:
            raise TypeError(f"unknown options {sorted(unknown)}; fitting options: {sorted(_FIT_KEYS)}")
        try:
            opts = {k: _FIT_KEYS[k](v) for k, v in fit_options.items()}
            self.fit_options = FitOptions(device=device, **opts)
            self.fit_options.check()
        except ValueError as exc:
            raise OptionError(f"{self.name}: bad fitting option: {exc}") from None
        try:
            self.weight_bits, self.embed_bits = int(weight_bits), int(embed_bits)
        except ValueError:
            raise OptionError(f"{self.name}: weight_bits and embed_bits must be whole numbers") from None
        if not (2 <= self.weight_bits <= 16 and 2 <= self.embed_bits <= 16):
            raise OptionError(f"{self.name}: weight_bits and embed_bits must be in 2..16")
        try:
            self.embed_share = float(embed_share)
        except ValueError:
            raise OptionError(f"{self.name}: embed_share must be a number") from None
        if not 0.0 < self.embed_share < 1.0:
            raise OptionError(f"{self.name}: embed_share must be in (0, 1), got {self.embed_share}")
        if weight_quant not in WEIGHT_QUANTS:
            raise OptionError(f"{self.name}: weight_quant must be one of {', '.join(WEIGHT_QUANTS)}, got {weight_quant!r}")
        self.weight_quant = weight_quant
        if embed_coding not in EMBED_CODINGS:
            raise OptionError(f"{self.name}: embed_coding must be one of {', '.join(EMBED_CODINGS)}, got {embed_coding!r}")
        self.embed_coding = embed_coding
        if weight_prior not in WEIGHT_PRIORS:
            raise OptionError(f"{self.name}: weight_prior must be one of {', '.join(WEIGHT_PRIORS)}, got {weight_prior!r}")
        self.weight_prior = weight_prior
        self.block = block
        self.workdir = Path(workdir) if workdir is not None else None
        self.progress = _as_bool(progress)

    def settings(self) -> dict[str, Any]:
        o = self.fit_options
        return {"arch": self.arch, "block": self.block, "epochs": o.epochs, "batch": o.batch, "lr": o.lr,
                "prune": o.prune, "prune_at": o.prune_at, "qat_at": o.qat_at, "rate_lambda": o.rate_lambda,
                "grad_clip": o.grad_clip, "quant_noise": o.quant_noise, "reseeds": o.reseeds, "weight_bits": self.weight_bits,
                "embed_bits": self.embed_bits, "embed_share": self.embed_share, "weight_quant": self.weight_quant,
                "embed_coding": self.embed_coding if self.arch == "hnerv" else "direct",
                "weight_prior": self.weight_prior,
                "prior": "weights: adaptive or zero-inflated Laplace per tensor; embeddings: zero-inflated per channel "
                         "(temporal: of the residuals)"}

    def decode_memory(self, container: Container) -> int:
        from ncodec.codecs.video.config import INRConfig

        return INRConfig.from_dict(container.params.get("config")).decode_bytes()

    # ------------------------------------------------------------------ the four steps
    def analyse(self, media: Video, quality: Optional[float] = None) -> Latents:
        """Fit the network (the transform) and quantize it: integer weights and embeddings."""
        from ncodec.codecs.video import bitstream as wc
        from ncodec.codecs.video.config import configure
        from ncodec.codecs.video.fitting import fit
        from ncodec.devices import pick_device

        q = self.check_quality(quality)
        yuv = media.to_yuv420()
        t, h, w = yuv.planes[0].shape
        cfg = configure(self.arch, t, h, w, q * t * h * w, block=self.block, weight_bits=self.weight_bits,
                        embed_bits=self.embed_bits, embed_share=self.embed_share, weight_quant=self.weight_quant,
                        embed_coding=self.embed_coding, weight_prior=self.weight_prior)
        start = time.perf_counter()
        result = fit(yuv.planes, cfg, self.fit_options, workdir=self.workdir, progress=self.progress)
        seconds = time.perf_counter() - start
        state = result.decoder_state
        groups, codes, extra = wc.tensor_integers(state, cfg.weight_bits, cfg.weight_quant == "channel")
        tensors = {f"{WEIGHT_PREFIX}{n}": g.reshape(tuple(state[n].shape)) for n, g in zip(sorted(state), groups)}
        side: dict[str, Any] = {"config": cfg.to_dict(), "weight_steps": [list(c) for c in codes],
                                "channel_steps": list(extra), "fps": [yuv.fps.numerator, yuv.fps.denominator]}
        if result.embeddings is not None:
            tensors[EMBED_CHUNK], steps = result.embeddings
            side["embedding_steps"] = list(steps)
        side["fit"] = {"epochs": self.fit_options.epochs, "steps": result.steps, "seconds": round(seconds, 2),
                       "resumed_from_step": result.resumed_from, "seed": result.seed,
                       "device": str(pick_device(self.fit_options.device))}
        return Latents(self.name, q, yuv.metadata(), tensors, side)

    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]:
        from ncodec.codecs.video import bitstream as wc
        from ncodec.codecs.video.config import INRConfig

        side = latents.side
        cfg = INRConfig.from_dict(side["config"])
        weights = _weight_integers(latents)
        chunks = {WEIGHTS_CHUNK: wc.weights_to_chunk(weights, side["weight_steps"], bytes(side["channel_steps"]),
                                                     cfg.weight_bits, cfg.weight_prior)}
        n_weights = sum(v.size for v in weights.values())
        params: dict[str, Any] = {"config": side["config"], "weights_count": n_weights,
                                  "weights_raw_bytes": wc.raw_bytes(n_weights, cfg.weight_bits)}
        if EMBED_CHUNK in latents.tensors:
            q = latents.tensors[EMBED_CHUNK]
            chunks[EMBED_CHUNK] = wc.encode_embeddings(q, side["embedding_steps"], cfg.embed_bits, cfg.embed_coding)
            params["embeddings_count"] = int(q.size)
            params["embeddings_raw_bytes"] = wc.raw_bytes(q.size, cfg.embed_bits)
        params["fps"] = side["fps"]
        if "fit" in side:
            params["fit"] = side["fit"]
        return chunks, params

    def from_chunks(self, container: Container) -> Latents:
        from ncodec.codecs.video import bitstream as wc
        from ncodec.codecs.video.config import INRConfig

        p, meta = container.params, container.media
        cfg = INRConfig.from_dict(p.get("config"))
        t, h, w = meta["shape"]
        if (cfg.frames, cfg.height, cfg.width) != (t, h, w) or cfg.arch != self.arch:
            raise CorruptStreamError(f"{self.name} model config does not match the {t}x{h}x{w} video it claims")
        data = container.chunks.get(WEIGHTS_CHUNK)
        if data is None:
            raise CorruptStreamError(f"{self.name} stream has no {WEIGHTS_CHUNK!r} chunk")
        weights, codes, extra = wc.weights_from_chunk(data, _expected_shapes(cfg), cfg.weight_bits,
                                                      cfg.weight_quant == "channel", cfg.weight_prior)
        tensors = {f"{WEIGHT_PREFIX}{n}": v for n, v in weights.items()}
        side: dict[str, Any] = {"config": cfg.to_dict(), "weight_steps": [list(c) for c in codes],
                                "channel_steps": list(extra), "fps": list(meta["fps"])}
        if cfg.arch == "hnerv":
            edata = container.chunks.get(EMBED_CHUNK)
            if edata is None:
                raise CorruptStreamError(f"{self.name} stream has no {EMBED_CHUNK!r} chunk")
            tensors[EMBED_CHUNK], side["embedding_steps"] = wc.embeddings_from_chunk(
                edata, (t, cfg.embed_dim, *cfg.grid), cfg.embed_bits, cfg.embed_coding)
        if isinstance(p.get("fit"), dict):
            side["fit"] = p["fit"]
        return Latents(self.name, float(container.quality), dict(meta), tensors, side)

    def synthesise(self, latents: Latents) -> Video:
        """Render every frame from the dequantized weights (and embeddings)."""
        from ncodec.codecs.video import bitstream as wc
        from ncodec.codecs.video.config import INRConfig
        from ncodec.codecs.video.rendering import build_decoder, render

        side, meta = latents.side, latents.media
        cfg = INRConfig.from_dict(side["config"])
        decoder = build_decoder(cfg)
        decoder.load_state_dict(wc.dequantize_weights(_weight_integers(latents), side["weight_steps"],
                                                      bytes(side["channel_steps"]), cfg.weight_quant == "channel"))
        emb = None
        if EMBED_CHUNK in latents.tensors:
            emb = wc.dequantize_embeddings(latents.tensors[EMBED_CHUNK], side["embedding_steps"])
        y, u, v = render(cfg, decoder, emb)
        return Video((y, u, v), Fraction(*side["fps"]), "yuv420p", meta["color_space"])

    def features(self, latents: Latents) -> np.ndarray:
        """HNeRV's per-frame embeddings, dequantized: ``T x C x h x w`` (a frame's features are
        ``[t]``). NeRV has none: its frames are positions fed to the fitted network, whose weights
        are coded once per video."""
        from ncodec.codecs.video import bitstream as wc

        if EMBED_CHUNK not in latents.tensors:
            raise NcodecError(f"{self.name} has no per-frame latents: a frame is a position in the fitted "
                              "network, whose weights are coded once per video")
        return wc.dequantize_embeddings(latents.tensors[EMBED_CHUNK], latents.side["embedding_steps"]).numpy()

    def _encode(self, media: Video, quality: float) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any]]:
        """The four steps' encode, plus the Y-PSNR of the decoded frames in the header's fit record."""
        latents = self.analyse(media, quality)
        chunks, params = self.to_chunks(latents)
        params["fit"] = {**params["fit"], "y_psnr": round(_y_psnr(media.to_yuv420(), self.synthesise(latents)), 4)}
        return chunks, params, latents.media


def _weight_integers(latents: Latents) -> dict[str, np.ndarray]:
    return {k[len(WEIGHT_PREFIX):]: v for k, v in latents.tensors.items() if k.startswith(WEIGHT_PREFIX)}


def _expected_shapes(cfg) -> dict[str, tuple[int, ...]]:
    """Every decoder tensor's shape, from a model on the meta device (nothing allocated, nothing run)."""
    import torch

    from ncodec.codecs.video.rendering import build_decoder

    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in build_decoder(cfg).state_dict().items()}


class NeRVCodec(_INRVideoCodec):
    name = "nerv"
    arch = "nerv"
    description = ("NeRV implicit video representation: frame index -> positional encoding -> MLP -> "
                   "upsampling conv blocks; fitted per video, pruned, 6-bit quantized, entropy coded")


class HNeRVCodec(_INRVideoCodec):
    name = "hnerv"
    arch = "hnerv"
    description = ("HNeRV: per-frame content-adaptive embeddings (coded) + upsampling decoder; fitted per "
                   "video, pruned, 6-bit weights / 6-bit embeddings, entropy coded; block=enhanced for "
                   "NeRV++-style blocks")


def _y_psnr(ref: Video, dist: Video) -> float:
    """Frame-averaged luma PSNR, each frame capped at 60 dB: the Y-PSNR that
    :func:`ncodec.eval.metrics.video_psnr` reports, recorded in the stream at encode time."""
    psnrs = []
    for a, b in zip(ref.planes[0], dist.planes[0]):
        mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
        psnrs.append(60.0 if mse == 0 else min(10.0 * math.log10(255.0 * 255.0 / mse), 60.0))
    return float(np.mean(psnrs))


def bits_per_pixel_for_size(size_kb: float, video: Video) -> float:
    """The quality knob for a target file size in kilobytes (1 kB = 1000 bytes)."""
    if not (size_kb > 0 and math.isfinite(size_kb)):
        raise MediaError(f"--size-kb must be a positive number, got {size_kb}")
    return size_kb * 8000.0 / video.num_pixels


