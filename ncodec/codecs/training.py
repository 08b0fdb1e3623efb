"""The rate-distortion training loop every learned family shares (``ncodec train image|audio``).

A family supplies a :class:`TrainingTask`: its model, a sampler of training batches, the loss of
one batch and a validation pass. This module does the rest the same way for all of them:

- one quality ``q = u ** q_power`` (``u ~ U[0, 1]``) per item, so one model learns every rate
  through its gain units, and the loss is the task's ``rate + lambda(q) * distortion``;
- Adam at ``lr`` for the first ``decay_at`` of the steps, then ``lr / 10``; gradient norm clipped
  to 1; the factorized prior's quantiles (auxiliary loss) have their own Adam;
- exact resume: ``RUN_DIR/checkpoint.safetensors`` (weights, both optimizers, torch RNG, the
  sampler's numpy RNG, step, hours) every ``checkpoint_minutes``, at the end and on SIGTERM /
  Ctrl-C; re-running the same command continues from it, and a command whose architecture
  differs from the run's is refused;
- ``RUN_DIR/log.csv``: ``step, hours, lr, loss``, the task's training columns, ``aux``, then the
  validation columns every ``val_every`` steps; a tqdm bar;
- data-parallel under ``torchrun`` (gloo on CPU, nccl on CUDA); rank 0 alone logs and writes.

Starting from other weights (``init``) copies tensors of the same name and shape; ``freeze``
keeps parameters with the given name prefixes fixed.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

import torch
import torch.distributed as dist
from tqdm import tqdm

from ncodec.checkpoint import load_checkpoint, save_checkpoint
from ncodec.codecs.model_state import learned_state
from ncodec.devices import pick_device
from ncodec.errors import NcodecError


@dataclass
class LoopConfig:
    """The options every ``ncodec train`` medium shares; families subclass it with their own."""

    arch: str = ""
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    steps: int = 100_000
    batch: int = 8
    lr: float = 5e-4
    aux_lr: float = 1e-3
    decay_at: float = 0.85
    seed: int = 0
    checkpoint_minutes: float = 5.0
    val_every: int = 500
    log_every: int = 50
    device: str = "auto"
    threads: int = 0
    snapshot_every: int = 0  # steps; fp16 weights kept in RUN_DIR/snapshots for the training-time curve
    init: str = ""  # weights file or run directory to start from (a fresh run only)
    freeze: list[str] = field(default_factory=list)  # parameter-name prefixes kept fixed
    q_power: float = 1.0  # qualities drawn as u ** q_power, u ~ U(0, 1): below 1 trains high rates more

    #: fields a resumed run must share with the command that resumes it
    FIXED = ("arch", "batch", "freeze")

    def model_config(self) -> dict:
        return {}


class Sampler(Protocol):
    def batch(self, n: int) -> torch.Tensor: ...
    def state(self) -> dict: ...
    def set_state(self, state: dict) -> None: ...


class TrainingTask(Protocol):
    """What a learned family gives the loop."""

    #: training columns of the log, in order (values from :meth:`log_values`)
    log_columns: list[str]
    #: validation columns of the log, in order (values from :meth:`evaluate`)
    val_columns: list[str]

    def build_model(self) -> torch.nn.Module: ...
    def sampler(self, rank: int, progress: bool) -> Sampler: ...
    def prepare(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor: ...
    def loss(self, out: dict, x: torch.Tensor, q: torch.Tensor, model) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...
    def log_values(self, means: dict[str, float]) -> dict[str, float]: ...
    def evaluate(self, model, device: torch.device) -> dict[str, float]: ...


def setup_distributed(device: torch.device) -> tuple[int, int]:
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


def train(cfg: LoopConfig, task: TrainingTask, run_dir: Path, progress: bool = True,
          on_start: Optional[Callable[[torch.nn.Module, int], None]] = None) -> dict:
    """Train (or resume) into ``run_dir``; returns ``{"step", "seconds", "model"}``.

    ``on_start(model, rank)`` runs once on a fresh run after ``init`` (e.g. to revive channels).
    """
    threads_before, benchmark_before = torch.get_num_threads(), torch.backends.cudnn.benchmark
    # CUDA only (no effect on CPU): fixed crop shapes let cuDNN time and keep its fastest kernels
    torch.backends.cudnn.benchmark = True
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, a session ending) and Ctrl-C stop the run after the step in progress (a
        # step cut in half could leave state a forward pass updates, such as the residual VQ's
        # codebook averages, one step ahead of the checkpoint), which is then checkpointed
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        return _train(cfg, task, Path(run_dir), progress, on_start, stop)
    finally:
        torch.set_num_threads(threads_before)
        torch.backends.cudnn.benchmark = benchmark_before
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_run(cfg: LoopConfig, cfg_path: Path, run_dir: Path, rank: int) -> None:
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        defaults = type(cfg)()
        def plain(v):  # JSON gives lists where the config has tuples
            return list(v) if isinstance(v, tuple) else v

        for k in cfg.FIXED:
            if plain(old.get(k, getattr(defaults, k))) != plain(getattr(cfg, k)):
                raise NcodecError(f"{run_dir} is a run with {k}={old.get(k)}; this command says {getattr(cfg, k)}")
    elif rank == 0:
        cfg_path.write_text(json.dumps(asdict(cfg), indent=2))


def _train(cfg: LoopConfig, task: TrainingTask, run_dir: Path, progress: bool, on_start,
           stop: threading.Event) -> dict:
    sample_qualities(1, cfg.q_power)  # a bad --q-power fails before any data is loaded
    device = pick_device(cfg.device)
    rank, world = setup_distributed(device)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path, ckpt_path, log_path = run_dir / "config.json", run_dir / "checkpoint.safetensors", run_dir / "log.csv"
    _check_run(cfg, cfg_path, run_dir, rank)

    torch.manual_seed(cfg.seed + 1000 * rank)
    model = task.build_model().to(device)
    if cfg.init and not ckpt_path.exists():
        copied = init_from(model, Path(cfg.init))
        if rank == 0:
            print(f"initialised {copied} tensors from {cfg.init}")
    if on_start is not None and not ckpt_path.exists():
        on_start(model, rank)
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
    sampler = task.sampler(rank, progress and rank == 0)
    state = {"step": 0, "seconds": 0.0}
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
        writer.writerow(["step", "hours", "lr", "loss", *task.log_columns, "aux", *task.val_columns])
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0,
               desc=f"train {cfg.arch}", unit="step", dynamic_ncols=True)
    acc: dict = {}
    n_acc = 0
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
            x = task.prepare(sampler.batch(cfg.batch), device)
            q = sample_qualities(cfg.batch, cfg.q_power, device)
            loss, metrics = task.loss(ddp(x, q), x, q, model)
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
            for k, v in {"loss": loss, "aux": aux, **metrics}.items():
                acc[k] = acc.get(k, 0.0) + v.detach()
            n_acc += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                means = {k: float(v) / max(n_acc, 1) for k, v in acc.items()}
                shown = task.log_values(means)
                vals = task.evaluate(model, device) if step % cfg.val_every == 0 or step == cfg.steps else {}
                bar.set_postfix(loss=f"{means['loss']:.3f}", **{k: f"{v:.3f}" for k, v in shown.items()})
                if writer:
                    writer.writerow([step, f"{seconds / 3600:.4f}", lr, f"{means['loss']:.5f}",
                                     *(f"{shown[c]:.5f}" for c in task.log_columns), f"{means['aux']:.3f}",
                                     *(f"{vals[c]:.5f}" if c in vals else "" for c in task.val_columns)])
                    log_file.flush()
                acc, n_acc = {}, 0
            if rank == 0 and cfg.snapshot_every and step % cfg.snapshot_every == 0:
                snapshot(model, run_dir, step, seconds)
            if stop.is_set():
                raise KeyboardInterrupt
            if time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
        checkpoint()
    except KeyboardInterrupt:  # stopped (SIGTERM, Ctrl-C): keep everything up to the last finished step
        if world == 1:
            checkpoint()
        raise
    finally:
        bar.close()
        if log_file:
            log_file.close()
    return {"step": step, "seconds": seconds, "model": model}


def snapshot(model, run_dir: Path, step: int, seconds: float) -> None:
    from ncodec.checkpoint import save_weights

    path = run_dir / "snapshots" / f"step-{step:07d}.safetensors"
    path.parent.mkdir(exist_ok=True)
    save_weights(learned_state(model), path, {"config": model.config(),
                                            "provenance": {"step": step, "hours": round(seconds / 3600, 4)}},
                 dtype=torch.float16)


def run_model(run_dir: Path, build: Callable[[dict], torch.nn.Module]) -> tuple[torch.nn.Module, dict, dict]:
    """A training run's current model (``build(run config)`` then the checkpoint's tensors),
    the run config and the checkpoint's state."""
    from safetensors import safe_open

    run_dir = Path(run_dir)
    cfg_path, ckpt_path = run_dir / "config.json", run_dir / "checkpoint.safetensors"
    if not cfg_path.exists() or not ckpt_path.exists():
        raise NcodecError(f"{run_dir} has no config.json and checkpoint.safetensors: not a training run")
    cfg = json.loads(cfg_path.read_text())
    model = build(cfg)
    with safe_open(str(ckpt_path), framework="pt") as f:
        state = json.loads((f.metadata() or {}).get("state", "{}"))
        tensors = {k[len("model."):]: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}
    model.load_state_dict(tensors)
    return model, cfg, state


def export_weights(run_dir: Path, out: Path, build: Callable[[dict], torch.nn.Module],
                   dtype: Optional[torch.dtype] = None, base: Optional[Path] = None,
                   codec_hash: Optional[Callable[[torch.nn.Module], str]] = None) -> dict:
    """Write a run's current model as a plain weights file (what ships), with provenance;
    with ``base``, the tensors equal to the base file's are left out and referenced.
    ``codec_hash(model)`` is the weights hash a codec computes once it has loaded the file: it
    is stored as ``sha256`` so that ``ncodec info`` can match streams to the file without torch."""
    from ncodec.checkpoint import save_weights

    model, cfg, state = run_model(run_dir, build)
    info = {"config": model.config(),
            "provenance": {"run_config": cfg, "step": state.get("step"),
                           "hours": round(float(state.get("seconds", 0.0)) / 3600, 3),
                           "dtype": str(dtype or torch.float32).replace("torch.", "")}}
    if codec_hash is not None:
        loaded = build(cfg)  # the file's tensors as a codec will load them (cast and back to float32)
        loaded.load_state_dict({k: (v.to(dtype).float() if dtype is not None and v.is_floating_point() else v)
                                for k, v in model.state_dict().items()})
        info["sha256"] = codec_hash(loaded)
    if base is not None:
        from ncodec.checkpoint import save_weights_on_base

        if Path(base).resolve().parent != Path(out).resolve().parent:
            raise NcodecError(f"the base file must sit in the output's directory ({Path(out).parent})")
        info["shared_with_base"] = len(save_weights_on_base(learned_state(model), Path(out), Path(base), info, dtype))
    else:
        save_weights(learned_state(model), Path(out), info, dtype=dtype)
    return info
