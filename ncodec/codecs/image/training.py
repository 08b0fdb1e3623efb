"""``ncodec train image``: rate-distortion training of a variable-rate learned image codec.

Loss per image: ``lambda(q) * 255^2 * MSE + bpp`` with a quality ``q ~ U[0, 1]`` drawn per
image, so one model learns every rate (gain units interpolate the Lagrangian between the
trained levels). The loop itself (schedule, exact resume, log, torchrun) is the one every
family shares: :mod:`ncodec.codecs.training`.

A run can start from another model's weights (``init``: a weights file or a run directory;
tensors of the same name and shape are copied) and keep some modules fixed (``freeze``: name
prefixes such as ``g_a``): a hyperprior fine-tuned on a trained checkerboard model's transforms
needs a fraction of the hours, and :func:`export_weights` with a ``base`` file then stores only
the tensors that differ from it. ``log.csv`` records training loss, bpp and PSNR, and every
``val_every`` steps the validation crops' bpp and PSNR at three qualities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ncodec.codecs import training as loop
from ncodec.codecs.image.loss import rd_loss
from ncodec.codecs.image.registry import build_model
from ncodec.codecs.image.revival import revive_dead_channels
from ncodec.codecs.image.training_data import CropSampler, centre_crops, image_files, load_images, to_float
from ncodec.codecs.training import LoopConfig
from ncodec.errors import NcodecError

VAL_QUALITIES = (0.0, 0.5, 1.0)


@dataclass
class TrainConfig(LoopConfig):
    arch: str = "checkerboard"
    crop: int = 128
    N: int = 128
    M: int = 192
    val_crop: int = 256
    max_val: int = 8
    revive_dead: bool = False  # reset collapsed latent channels of the init weights (revival.py)
    downscale: float = 1.0  # shrink training images by this factor first (training_data.py)
    C: int = 96  # wavelet: the transforms' width
    levels: int = 2  # wavelet: 2-D packet levels

    FIXED = ("arch", "N", "M", "crop", "batch", "freeze", "downscale", "C", "levels")

    def model_config(self) -> dict:
        extra = {"C": self.C, "levels": self.levels} if self.arch == "wavelet" else {}
        return {"N": self.N, "M": self.M, **extra}


def evaluate(model, crops, device) -> dict[str, float]:
    model.eval()
    res = {}
    with torch.no_grad():
        for q in VAL_QUALITIES:
            bpps, psnrs = [], []
            for c in crops:
                x = c[None].to(device)
                out = model(x, q)
                _, bpp, mse = rd_loss(out, x, torch.zeros(1, device=device))
                bpps.append(float(bpp))
                psnrs.append(-10 * math.log10(max(float(mse), 1e-10)))
            res[f"val_bpp_q{q:g}"] = sum(bpps) / len(bpps)
            res[f"val_psnr_q{q:g}"] = sum(psnrs) / len(psnrs)
    model.train()
    return res


class ImageTask:
    """Random RGB crops, MSE distortion, bpp rate (:class:`ncodec.codecs.training.TrainingTask`)."""

    log_columns = ["bpp", "psnr"]
    val_columns = [f"val_{m}_q{q:g}" for q in VAL_QUALITIES for m in ("bpp", "psnr")]

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.val: list = []

    def build_model(self):
        return build_model(self.cfg.arch, **self.cfg.model_config())

    def sampler(self, rank: int, progress: bool) -> CropSampler:
        cfg = self.cfg
        images = load_images(image_files([Path(d) for d in cfg.data]), cfg.crop, progress, cfg.downscale)
        self.val = centre_crops(load_images(image_files([Path(d) for d in cfg.val_data]), cfg.val_crop, False),
                                cfg.val_crop)[: cfg.max_val] if cfg.val_data else []
        return CropSampler(images, cfg.crop, seed=cfg.seed + 7919 * rank)

    def prepare(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        return to_float(batch.to(device))

    def loss(self, out: dict, x: torch.Tensor, q: torch.Tensor, model):
        loss, bpp, mse = rd_loss(out, x, model.gain.lmbda(q))
        return loss, {"bpp": bpp.mean(), "mse": mse.mean()}

    def log_values(self, means: dict[str, float]) -> dict[str, float]:
        return {"bpp": means["bpp"], "psnr": -10 * math.log10(max(means["mse"], 1e-10))}

    def evaluate(self, model, device) -> dict[str, float]:
        return evaluate(model, self.val, device) if self.val else {}


def train(cfg: TrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """Train (or resume) into ``run_dir``; returns ``{"step", "seconds", "model"}``."""
    if cfg.revive_dead and not cfg.init:
        raise NcodecError("--revive-dead needs --init (the trained weights whose channels collapsed)")

    def revive(model, rank: int) -> None:
        if cfg.revive_dead:
            revived = revive_dead_channels(model)
            if rank == 0:
                print(f"revived {len(revived)} dead latent channels: {revived}")

    return loop.train(cfg, ImageTask(cfg), run_dir, progress, on_start=revive)


def _build_from_run(cfg: dict):
    known = {k: v for k, v in cfg.items() if k in TrainConfig.__dataclass_fields__}
    return build_model(cfg["arch"], **TrainConfig(**known).model_config())


def export_weights(run_dir: Path, out: Path, dtype: Optional[torch.dtype] = None,
                   base: Optional[Path] = None) -> dict:
    """Write a run's current model as a plain weights file (what ships), with provenance;
    with ``base``, the tensors equal to the base file's are left out and referenced."""
    from ncodec.checkpoint import weights_sha256

    return loop.export_weights(run_dir, out, _build_from_run, dtype, base,
                               codec_hash=lambda m: weights_sha256(m.state_dict()))
