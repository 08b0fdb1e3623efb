"""``ncodec train image``: rate-distortion training of a variable-rate learned image codec.

Loss per image: ``lambda(q) * 255^2 * MSE + bpp`` with a quality ``q ~ U[0, 1]`` drawn per
image, so one model learns every rate (gain units interpolate the Lagrangian between the
trained levels). The factorized prior's quantile (auxiliary) loss has its own optimizer.
Adam at ``lr`` for the first ``decay_at`` of the steps, then ``lr / 10``.

A run can start from another model's weights (``init``: a weights file or a run directory;
tensors of the same name and shape are copied) and keep some modules fixed (``freeze``: name
prefixes such as ``g_a``): a hyperprior fine-tuned on a trained checkerboard model's transforms
needs a fraction of the hours, and :func:`export_weights` with a ``base`` file then stores only
the tensors that differ from it.

Runs resume exactly: ``RUN_DIR/checkpoint.safetensors`` (weights, both optimizers, torch and
crop-sampler RNG state, step) is written every ``checkpoint_minutes`` and at the end, and
re-running the same command continues from it. ``RUN_DIR/log.csv`` records training loss,
bpp and PSNR, and every ``val_every`` steps the validation crops' bpp and PSNR at three
qualities. Under ``torchrun`` the run is data-parallel (gloo on CPU, nccl on CUDA); rank 0
alone logs and checkpoints.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
from tqdm import tqdm

from ncodec.checkpoint import load_checkpoint, save_checkpoint
from ncodec.codecs.image.loss import rd_loss
from ncodec.codecs.image.base import learned_state
from ncodec.codecs.image.registry import build_model
from ncodec.codecs.image.revival import revive_dead_channels
from ncodec.codecs.image.training_data import CropSampler, centre_crops, image_files, load_images, to_float
from ncodec.devices import pick_device
from ncodec.errors import NcodecError

VAL_QUALITIES = (0.0, 0.5, 1.0)


@dataclass
class TrainConfig:
    arch: str = "checkerboard"
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    steps: int = 100_000
    batch: int = 8
    crop: int = 128
    lr: float = 5e-4
    aux_lr: float = 1e-3
    decay_at: float = 0.85
    N: int = 128
    M: int = 192
    seed: int = 0
    checkpoint_minutes: float = 5.0
    val_every: int = 500
    log_every: int = 50
    device: str = "auto"
    threads: int = 0
    val_crop: int = 256
    max_val: int = 8
    snapshot_every: int = 0  # steps; fp16 weights kept in RUN_DIR/snapshots for the training-time curve
    init: str = ""  # weights file or run directory to start from (a fresh run only)
    freeze: list[str] = field(default_factory=list)  # parameter-name prefixes kept fixed
    q_power: float = 1.0  # qualities drawn as u ** q_power, u ~ U(0, 1): below 1 trains high rates more
    revive_dead: bool = False  # reset collapsed latent channels of the init weights (revival.py)
    downscale: float = 1.0  # shrink training images by this factor first (training_data.py)

    def model_config(self) -> dict:
        return {"N": self.N, "M": self.M}


def _setup_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def init_from(model: torch.nn.Module, source: Path) -> int:
    """Copy every tensor of ``source`` (weights file or run directory) whose name and shape match."""
    from ncodec.checkpoint import load_weights

    if source.is_dir():
        tensors, _ = load_weights(source / "checkpoint.safetensors")
        tensors = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    else:
        tensors, _ = load_weights(source)
    own = learned_state(model)
    take = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    if not take:
        raise NcodecError(f"{source} has no tensor that fits a {getattr(model, 'arch', 'model')}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in take.items()}, strict=False)
    return len(take)


def freeze(model: torch.nn.Module, prefixes: list[str]) -> int:
    """Stop gradients for parameters whose names start with one of ``prefixes``; returns the count."""
    names = dict(model.named_parameters())
    for p in prefixes:
        if not any(n == p or n.startswith(p + ".") for n in names):
            raise NcodecError(f"--freeze {p}: no such parameters (modules: {sorted({n.split('.')[0] for n in names})})")
    count = 0
    for n, param in names.items():
        if any(n == p or n.startswith(p + ".") for p in prefixes):
            param.requires_grad_(False)
            count += param.numel()
    return count


def sample_qualities(n: int, power: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` training qualities ``q = u ** power`` with ``u ~ U(0, 1)``: density
    ``q ** (1 / power - 1) / power``, mean ``1 / (1 + power)``. ``power = 1`` is uniform; ``0.5``
    puts 75 % of the draws above ``q = 0.5``, where a variable-rate model's shared transforms
    need the most training (their reconstruction ceiling sets the top of the RD curve)."""
    if not power > 0:
        raise NcodecError(f"q power must be positive, got {power}")
    u = torch.rand(n, device=device)
    return u if power == 1.0 else u.pow(power)


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


def train(cfg: TrainConfig, run_dir: Path, progress: bool = True) -> dict:
    """Train (or resume) into ``run_dir``; returns the final state dict of the run."""
    threads_before, benchmark_before = torch.get_num_threads(), torch.backends.cudnn.benchmark
    # CUDA only (no effect on CPU): fixed crop shapes let cuDNN time and keep its fastest kernels
    torch.backends.cudnn.benchmark = True
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, a session ending) checkpoints like Ctrl-C; background jobs ignore SIGINT
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return _train(cfg, run_dir, progress)
    finally:
        torch.set_num_threads(threads_before)
        torch.backends.cudnn.benchmark = benchmark_before
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _train(cfg: TrainConfig, run_dir: Path, progress: bool) -> dict:
    sample_qualities(1, cfg.q_power)  # a bad --q-power fails before any data is loaded
    device = pick_device(cfg.device)
    rank, world = _setup_distributed(device)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path, ckpt_path, log_path = run_dir / "config.json", run_dir / "checkpoint.safetensors", run_dir / "log.csv"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        defaults = TrainConfig()
        for k in ("arch", "N", "M", "crop", "batch", "freeze", "downscale"):
            if old.get(k, getattr(defaults, k)) != getattr(cfg, k):
                raise NcodecError(f"{run_dir} is a run with {k}={old.get(k)}; this command says {getattr(cfg, k)}")
    elif rank == 0:
        cfg_path.write_text(json.dumps(asdict(cfg), indent=2))

    torch.manual_seed(cfg.seed + 1000 * rank)
    model = build_model(cfg.arch, **cfg.model_config()).to(device)
    if cfg.init and not ckpt_path.exists():
        copied = init_from(model, Path(cfg.init))
        if rank == 0:
            print(f"initialised {copied} tensors from {cfg.init}")
        if cfg.revive_dead:
            revived = revive_dead_channels(model)
            if rank == 0:
                print(f"revived {len(revived)} dead latent channels: {revived}")
    elif cfg.revive_dead and not cfg.init:
        raise NcodecError("--revive-dead needs --init (the trained weights whose channels collapsed)")
    frozen = freeze(model, cfg.freeze)
    if rank == 0 and frozen:
        print(f"frozen: {frozen:,} parameters ({', '.join(cfg.freeze)})")
    quantiles = [p for n, p in model.named_parameters() if n.endswith("quantiles") and p.requires_grad]
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles") and p.requires_grad]
    if not main_params:
        raise NcodecError("--freeze leaves nothing to train")
    opt = torch.optim.Adam(main_params, lr=cfg.lr)
    # the factorized prior's quantiles have their own optimizer (none when they are frozen)
    optimizers = {"main": opt}
    aux_opt = torch.optim.Adam(quantiles, lr=cfg.aux_lr) if quantiles else None
    if aux_opt is not None:
        optimizers["aux"] = aux_opt
    images = load_images(image_files([Path(d) for d in cfg.data]), cfg.crop, progress and rank == 0,
                         cfg.downscale)
    sampler = CropSampler(images, cfg.crop, seed=cfg.seed + 7919 * rank)
    val = centre_crops(load_images(image_files([Path(d) for d in cfg.val_data]), cfg.val_crop, False),
                       cfg.val_crop)[: cfg.max_val] if cfg.val_data else []
    state = {"step": 0, "seconds": 0.0, "sampler": {}}
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path, model, optimizers)
        samplers = state.get("samplers", {})
        if str(rank) in samplers:
            sampler.set_state(samplers[str(rank)])
        if rank == 0:
            print(f"resuming {run_dir} at step {state['step']}")
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    model.train()
    step, seconds = int(state["step"]), float(state["seconds"])
    last_ckpt = time.monotonic()
    new_log = not log_path.exists()
    log_file = open(log_path, "a", newline="") if rank == 0 else None
    writer = csv.writer(log_file) if log_file else None
    if writer and new_log:
        writer.writerow(["step", "hours", "lr", "loss", "bpp", "psnr", "aux"] +
                        [f"val_{m}_q{q:g}" for q in VAL_QUALITIES for m in ("bpp", "psnr")])
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0,
               desc=f"train {cfg.arch}", unit="step", dynamic_ncols=True)
    acc = {"loss": 0.0, "bpp": 0.0, "mse": 0.0, "aux": 0.0, "n": 0}
    typical_dt = 0.0

    def checkpoint() -> None:
        samplers = {str(rank): sampler.state()}
        if world > 1:
            gathered: list = [None] * world
            dist.all_gather_object(gathered, sampler.state())
            samplers = {str(i): s for i, s in enumerate(gathered)}
        if rank == 0:
            save_checkpoint(ckpt_path, model, optimizers,
                            {"step": step, "seconds": seconds, "samplers": samplers, "config": asdict(cfg)})

    try:
        while step < cfg.steps:
            t0 = time.monotonic()
            lr = cfg.lr if step < cfg.decay_at * cfg.steps else cfg.lr / 10
            for g in opt.param_groups:
                g["lr"] = lr
            x = to_float(sampler.batch(cfg.batch).to(device))
            q = sample_qualities(cfg.batch, cfg.q_power, device)
            out = ddp(x, q)
            loss, bpp, mse = rd_loss(out, x, model.gain.lmbda(q))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(main_params, 1.0)
            opt.step()
            aux = model.aux_loss()
            if aux_opt is not None:
                aux_opt.zero_grad(set_to_none=True)
                aux.backward()
                aux_opt.step()
            step += 1
            dt = time.monotonic() - t0
            # a step that took far longer than usual was suspended (SIGSTOP, laptop sleep):
            # count a typical step instead, so "hours of training" stays honest
            typical = typical_dt if typical_dt else dt
            seconds += dt if dt < 20 * typical else typical
            typical_dt = 0.99 * typical + 0.01 * min(dt, 20 * typical)
            # summed on the device: reading a value back every step would stall an accelerator
            for k, v in (("loss", loss), ("bpp", bpp.mean()), ("mse", mse.mean()), ("aux", aux)):
                acc[k] = acc[k] + v.detach()
            acc["n"] += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                n = max(acc["n"], 1)
                acc = {k: float(v) for k, v in acc.items()}
                psnr = -10 * math.log10(max(acc["mse"] / n, 1e-10))
                vals = evaluate(model, val, device) if val and (step % cfg.val_every == 0 or step == cfg.steps) else {}
                bar.set_postfix(loss=f"{acc['loss'] / n:.3f}", bpp=f"{acc['bpp'] / n:.3f}", psnr=f"{psnr:.2f}")
                if writer:
                    writer.writerow([step, f"{seconds / 3600:.4f}", lr, f"{acc['loss'] / n:.5f}", f"{acc['bpp'] / n:.5f}",
                                     f"{psnr:.4f}", f"{acc['aux'] / n:.3f}"] +
                                    [f"{vals[k]:.5f}" if k in vals else "" for k in
                                     (f"val_{m}_q{q:g}" for q in VAL_QUALITIES for m in ("bpp", "psnr"))])
                    log_file.flush()
                acc = {"loss": 0.0, "bpp": 0.0, "mse": 0.0, "aux": 0.0, "n": 0}
            if rank == 0 and cfg.snapshot_every and step % cfg.snapshot_every == 0:
                _snapshot(model, run_dir, step, seconds)
            if time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
        checkpoint()
    except KeyboardInterrupt:  # Ctrl-C / SIGINT: keep everything up to the last finished step
        if world == 1:
            checkpoint()
        raise
    finally:
        bar.close()
        if log_file:
            log_file.close()
    return {"step": step, "seconds": seconds, "model": model}


def _snapshot(model, run_dir: Path, step: int, seconds: float) -> None:
    from ncodec.checkpoint import save_weights

    path = run_dir / "snapshots" / f"step-{step:07d}.safetensors"
    path.parent.mkdir(exist_ok=True)
    save_weights(learned_state(model), path, {"config": model.config(),
                                            "provenance": {"step": step, "hours": round(seconds / 3600, 4)}},
                 dtype=torch.float16)


def export_weights(run_dir: Path, out: Path, dtype: Optional[torch.dtype] = None,
                   base: Optional[Path] = None) -> dict:
    """Write a run's current model as a plain weights file (what ships), with provenance;
    with ``base``, the tensors equal to the base file's are left out and referenced."""
    from safetensors import safe_open

    from ncodec.checkpoint import save_weights

    run_dir = Path(run_dir)
    cfg_path, ckpt_path = run_dir / "config.json", run_dir / "checkpoint.safetensors"
    if not cfg_path.exists() or not ckpt_path.exists():
        raise NcodecError(f"{run_dir} has no config.json and checkpoint.safetensors: not a training run")
    cfg = json.loads(cfg_path.read_text())
    model = build_model(cfg["arch"], N=cfg["N"], M=cfg["M"])
    with safe_open(str(ckpt_path), framework="pt") as f:
        state = json.loads((f.metadata() or {}).get("state", "{}"))
        tensors = {k[len("model."):]: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}
    model.load_state_dict(tensors)
    info = {"config": model.config(),
            "provenance": {"run_config": cfg, "step": state.get("step"),
                           "hours": round(float(state.get("seconds", 0.0)) / 3600, 3),
                           "dtype": str(dtype or torch.float32).replace("torch.", "")}}
    if base is not None:
        from ncodec.checkpoint import save_weights_on_base

        if Path(base).resolve().parent != Path(out).resolve().parent:
            raise NcodecError(f"the base file must sit in the output's directory ({Path(out).parent})")
        info["shared_with_base"] = len(save_weights_on_base(learned_state(model), Path(out), Path(base), info, dtype))
    else:
        save_weights(learned_state(model), Path(out), info, dtype=dtype)
    return info
