"""``ncodec train audio``: rate-distortion training of a variable-rate learned audio codec.

Loss per crop: ``kbit/s + lambda(q) * D`` (:mod:`.loss`: a multi-resolution STFT term and a
waveform term) with a quality ``q`` drawn per crop, so one model learns every rate through its
gain units. Crops are ``crop_seconds`` long (rounded to the model's stride), from clips read
mono at ``sample_rate`` (:mod:`.training_data`). The training folders' speakers are split by
:func:`~.training_data.speaker_split`: the held-out speakers never train and are the
validation set unless ``val_data`` names another. The loop (schedule, exact resume, log,
torchrun) is the one every family shares: :mod:`ncodec.codecs.training`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ncodec.codecs import training as loop
from ncodec.codecs.audio.loss import rd_loss, token_loss
from ncodec.codecs.audio.registry import build_model
from ncodec.codecs.audio.training_data import ClipSampler, audio_files, load_clips, speaker_split, validation_crops
from ncodec.codecs.training import LoopConfig

VAL_QUALITIES = (0.0, 0.5, 1.0)
VAL_PARTS = ("kbps", "spectral", "waveform")


@dataclass
class AudioTrainConfig(LoopConfig):
    arch: str = "wavelet"
    batch: int = 16
    lr: float = 5e-4
    sample_rate: int = 16_000
    crop_seconds: float = 1.0
    gain_db: tuple[float, float] = (-12.0, 6.0)
    waveform_weight: float = 1.0
    C: int = 96
    M: int = 32  # wavelet: latent channels
    N: int = 32  # wavelet: hyper-latent channels
    D: int = 48  # rvq: token-frame dimension
    codebooks: int = 32  # rvq
    levels: int = 4
    lambdas: tuple[float, ...] = ()  # wavelet: the gain levels' Lagrangians (empty: the model's default)
    channels: str = "mono"  # training clips: "mono", or "mid-side" for codecs that code stereo as M/S
    val_seconds: float = 2.0
    max_val: int = 16

    FIXED = ("arch", "C", "M", "N", "D", "codebooks", "levels", "sample_rate", "batch", "freeze", "lambdas")

    def model_config(self) -> dict:
        shared = {"C": self.C, "levels": self.levels, "sample_rate": self.sample_rate}
        if self.arch == "rvq":
            return {**shared, "D": self.D, "codebooks": self.codebooks}
        return {**shared, "M": self.M, "N": self.N, **({"lambdas": list(self.lambdas)} if self.lambdas else {})}


def _round_to(n: int, stride: int) -> int:
    return max(stride, n // stride * stride)


class AudioTask:
    """Random mono crops, multi-resolution STFT + waveform distortion, kbit/s rate (the wavelet
    model's under its hyperprior, the token model's under its token prior, beside the
    fixed-length indices' ``fixed_kbps``)."""

    val_columns = [f"val_{m}_q{q:g}" for q in VAL_QUALITIES for m in VAL_PARTS]

    def __init__(self, cfg: AudioTrainConfig) -> None:
        self.cfg = cfg
        self.log_columns = ["kbps", "spectral", "waveform"] + (["fixed_kbps"] if cfg.arch == "rvq" else [])
        self.val: list[torch.Tensor] = []
        self.stride = 0  # set by build_model, which the loop calls before sampler

    def build_model(self):
        model = build_model(self.cfg.arch, **self.cfg.model_config())
        self.stride = model.stride
        return model

    def sampler(self, rank: int, progress: bool) -> ClipSampler:
        cfg = self.cfg
        crop = _round_to(round(cfg.crop_seconds * cfg.sample_rate), self.stride)
        train_files, held_out = speaker_split(audio_files([Path(d) for d in cfg.data]))
        val_files = audio_files([Path(d) for d in cfg.val_data]) if cfg.val_data else held_out
        clips = load_clips(train_files, cfg.sample_rate, crop, progress, cfg.channels)
        val_crop = _round_to(round(cfg.val_seconds * cfg.sample_rate), self.stride)
        self.val = validation_crops(load_clips(val_files, cfg.sample_rate, self.stride, False, cfg.channels),
                                    val_crop, cfg.max_val, self.stride) if val_files else []
        return ClipSampler(clips, crop, seed=cfg.seed + 7919 * rank, gain_db=tuple(cfg.gain_db))

    def prepare(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        return batch.to(device)

    def loss(self, out: dict, x: torch.Tensor, q: torch.Tensor, model):
        if self.cfg.arch == "rvq":
            return token_loss(out, x, self.cfg.sample_rate, self.cfg.waveform_weight)
        return rd_loss(out, x, model.gain.lmbda(q), self.cfg.sample_rate, self.cfg.waveform_weight)

    def log_values(self, means: dict[str, float]) -> dict[str, float]:
        return {k: means[k] for k in self.log_columns}

    def evaluate(self, model, device) -> dict[str, float]:
        if not self.val:
            return {}
        model.eval()
        res = {}
        with torch.no_grad():
            for q in VAL_QUALITIES:
                sums = dict.fromkeys(VAL_PARTS, 0.0)
                for c in self.val:
                    x = c[None].to(device)
                    out = model(x, q)
                    _, parts = (token_loss(out, x, self.cfg.sample_rate) if self.cfg.arch == "rvq" else
                                rd_loss(out, x, torch.zeros(1, device=device), self.cfg.sample_rate))
                    for k in VAL_PARTS:
                        sums[k] += float(parts[k])
                res.update({f"val_{k}_q{q:g}": v / len(self.val) for k, v in sums.items()})
        model.train()
        return res


def train(cfg: AudioTrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """Train (or resume) into ``run_dir``; returns ``{"step", "seconds", "model"}``."""
    return loop.train(cfg, AudioTask(cfg), run_dir, progress)


def _build_from_run(cfg: dict):
    known = {k: v for k, v in cfg.items() if k in AudioTrainConfig.__dataclass_fields__}
    return build_model(cfg["arch"], **AudioTrainConfig(**known).model_config())


def export_weights(run_dir: Path, out: Path, dtype: Optional[torch.dtype] = None,
                   base: Optional[Path] = None) -> dict:
    """Write a run's current model as a plain weights file, with provenance."""
    from ncodec.checkpoint import weights_sha256
    from ncodec.codecs.model_state import learned_state

    return loop.export_weights(run_dir, out, _build_from_run, dtype, base,
                               codec_hash=lambda m: weights_sha256(learned_state(m)))
