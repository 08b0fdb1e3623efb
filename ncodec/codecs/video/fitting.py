"""Encoding a video with a NeRV-family model = fitting the model to that video.

One run of ``N = epochs x ceil(T / batch)`` steps of Adam (linear warm-up, then cosine decay
to 1 % of the peak rate), in three phases:

1. **fit** (steps ``0 .. prune_at N``): loss ``D + lambda R``. ``D`` is the mean squared error
   on Y, U and V weighted 6:1:1 (chroma compared at 4:2:0), ``R`` the weights' bits per pixel
   estimated with ncodec's Laplace prior on ``w / step + u`` (``u`` uniform noise, ``step`` the
   quantizer step of the layer or output channel (``weight_bits``, default 6; ``weight_quant``),
   the Laplace scale the layer's mean ``|w| / step``): rate-aware
   training that pulls the bulk of each layer towards zero relative to its extremes.
   ``lambda`` ramps up over the first 30 % of this phase, and ``lambda R`` is capped at ``D``:
   on small models at high rates a full ``lambda R`` dwarfs ``D`` and collapses the network
   to a flat image (seen on toy videos at 1 bpp).
2. **prune** (``prune_at N .. qat_at N``): the ``prune`` fraction of smallest-magnitude weights
   of every conv / linear layer is fixed at zero; training goes on with the rest.
3. **quantization-aware fine-tuning** (``qat_at N .. N``): the forward pass uses
   straight-through ``weight_bits``-bit weights; HNeRV's embeddings are computed once, quantized and frozen,
   so the decoder adapts to exactly the embeddings that will be transmitted.

**Collapse guard.** A small model started from an unlucky initialisation sometimes settles on
one still image (every frame the same; seen with HNeRV's 3-channel embeddings: 21 dB where
another seed reaches 29.5 dB). At ``collapse_check N`` (10 %, before pruning) the fit is scored
on up to 32 evenly spaced frames against the better of two trivial predictors of the clip: the
mean frame, and each frame's mean colour (:func:`still_baseline_db`). A fit less than
``collapse_db`` (1 dB) above it restarts from scratch with the next seed, at most ``reseeds``
times; the last attempt is kept whatever it scores. The attempt number is checkpointed.

**Quantization noise** (``quant_noise = a > 0``): after the warm-up and until the quantization-
aware phase, the forward pass sees every decoder weight plus ``a u`` quantizer steps (``u``
uniform in ``[-1/2, 1/2)``, the step as the stream will choose it), so the network is fitted to
tolerate the rounding it will get instead of meeting it only in the last 15 % of the steps
(on long fits that switch cost 2 dB, BENCHMARKS.md).

**Gradient clipping** (``grad_clip = c > 0``): a step whose gradient norm ``g`` exceeds ``c``
times the running mean ``m`` of the norms so far is rescaled to ``c m`` before Adam sees it, and
``m <- 0.99 m + 0.01 min(g, c m)``. The threshold is relative, so one ``c`` fits every model size
and loss scale (a fixed norm would not); it targets the isolated spikes that throw a fit at a
high learning rate off its track, and leaves ordinary steps alone.

With a ``workdir``, the fit appends its trajectory to ``workdir/trace.csv`` (attempt, step,
learning rate, training PSNR and gradient norm as moving averages; every 1 % of the steps) and
the collapse checks to the same file, so a fit that ends badly can be diagnosed.

Randomness (frame order, noise) comes from one seeded generator whose state is checkpointed
with the model, optimizer, masks and step, every ``checkpoint_seconds`` and on interruption
(``KeyboardInterrupt``), into ``workdir``; re-running the same encode resumes where it stopped
and ends with exactly the result of an uninterrupted run. A checkpoint made for other frames,
config or options is ignored (its fingerprint differs).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ncodec.checkpoint import load_checkpoint, save_checkpoint
from ncodec.devices import pick_device
from ncodec.entropy.distributions import likelihood_torch
from ncodec.errors import NcodecError
from ncodec.codecs.video import bitstream as wc
from ncodec.codecs.video.config import FitOptions, INRConfig
from ncodec.codecs.video.hnerv import HNeRV
from ncodec.codecs.video.nerv import NeRV

LUMA_WEIGHT, CHROMA_WEIGHT = 6.0 / 8.0, 1.0 / 8.0
log = logging.getLogger(__name__)
CHECKPOINT_NAME = "fit.safetensors"


@dataclass
class FitResult:
    model: nn.Module  # NeRV or HNeRV (weights already pruned)
    decoder_state: dict[str, torch.Tensor]  # what goes into the stream, before quantization
    embeddings: Optional[tuple[np.ndarray, list[float]]]  # HNeRV: quantized ints + per-channel steps
    steps: int
    seconds: float
    resumed_from: int
    seed: int = 0  # the seed of the attempt that was kept (``opts.seed`` + restarts after collapse)


def build_model(cfg: INRConfig) -> nn.Module:
    return NeRV(cfg) if cfg.arch == "nerv" else HNeRV(cfg)


def decoder_module(model: nn.Module) -> nn.Module:
    """The part of the model whose weights are transmitted."""
    return model.decoder if isinstance(model, HNeRV) else model


def prunable(name: str, p: torch.Tensor) -> bool:
    return p.dim() >= 2 and name.endswith("weight")


class _Frames:
    """Targets: Y (T x H x W) and U, V (T x Hc x Wc) in [0, 1]; HNeRV input at the padded size."""

    def __init__(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], cfg: INRConfig) -> None:
        self.y = torch.from_numpy(np.ascontiguousarray(planes[0]))
        self.u = torch.from_numpy(np.ascontiguousarray(planes[1]))
        self.v = torch.from_numpy(np.ascontiguousarray(planes[2]))
        self.cfg = cfg

    def targets(self, idx: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.y[idx].to(device, torch.float32).unsqueeze(1) / 255.0
        uv = torch.stack([self.u[idx], self.v[idx]], 1).to(device, torch.float32) / 255.0
        return y, uv

    def encoder_input(self, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
        """YUV 4:4:4 frames (chroma repeated 2x2), replicate-padded to the model's size."""
        y, uv = self.targets(idx, device)
        h, w = y.shape[-2:]
        uv = uv.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :h, :w]
        x = torch.cat([y, uv], 1)
        ph, pw = self.cfg.padded
        return F.pad(x, (0, pw - w, 0, ph - h), mode="replicate").contiguous(memory_format=torch.channels_last)


def to_yuv420(out: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Model output ``B x 3 x H' x W'`` -> Y ``B x 1 x H x W`` and UV ``B x 2 x Hc x Wc`` (2x2 means)."""
    y = out[:, :1, :height, :width]
    hc, wc_ = (height + 1) // 2, (width + 1) // 2
    uv = out[:, 1:3]
    ph, pw = max(0, 2 * hc - uv.shape[-2]), max(0, 2 * wc_ - uv.shape[-1])
    if ph or pw:
        uv = F.pad(uv, (0, pw, 0, ph), mode="replicate")
    uv = F.avg_pool2d(uv[..., :2 * hc, :2 * wc_], 2)
    return y, uv


def distortion(out: torch.Tensor, y: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    py, puv = to_yuv420(out, y.shape[-2], y.shape[-1])
    return LUMA_WEIGHT * F.mse_loss(py, y) + 2 * CHROMA_WEIGHT * F.mse_loss(puv, uv)


def rate_bits(params: dict[str, torch.Tensor], bits: int, gen: torch.Generator,
              per_channel: bool = False) -> torch.Tensor:
    """Differentiable estimate of the coded bits of the prunable weights (see the module docstring)."""
    total = torch.zeros((), device=next(iter(params.values())).device)
    for p in params.values():
        step = wc.soft_step(p, bits, per_channel)
        noise = torch.rand(p.shape, generator=gen).to(p.device) - 0.5
        x = p / step + noise
        scale = (p.detach().abs() / step).mean().clamp(min=0.11)
        lik = likelihood_torch("laplace", x, scale.expand_as(x), None)
        total = total - torch.log2(lik).sum()
    return total


def _check_frames(t_frames: int, count: int = 32) -> torch.Tensor:
    return torch.unique(torch.linspace(0, t_frames - 1, min(count, t_frames)).round().to(torch.int64))


def still_baseline_db(planes: tuple[np.ndarray, np.ndarray, np.ndarray], idx: torch.Tensor) -> float:
    """PSNR (of :func:`distortion`) of the better trivial predictor of frames ``idx``.

    The predictors are the mean of those frames (a still image) and each frame's own mean
    colour (a flat image per frame); a fit that cannot beat both has collapsed.
    """
    n = idx.numpy()
    still = flat = 0.0
    for p, w in zip(planes, (LUMA_WEIGHT, CHROMA_WEIGHT, CHROMA_WEIGHT)):
        x = torch.from_numpy(np.ascontiguousarray(p[n])).to(torch.float64) / 255.0
        still += w * float(((x - x.mean(0, keepdim=True)) ** 2).mean())
        flat += w * float(((x - x.mean((1, 2), keepdim=True)) ** 2).mean())
    return -10 * math.log10(max(min(still, flat), 1e-12))


def fingerprint(planes: tuple[np.ndarray, ...], cfg: INRConfig, opts: FitOptions) -> str:
    h = hashlib.sha256()
    for p in planes:
        h.update(np.ascontiguousarray(p).tobytes())
    # the collapse guard's settings leave a fit that does not collapse unchanged, and the attempt
    # in progress is checkpointed: changing them keeps a checkpoint usable
    skip = ("checkpoint_seconds", "device", "reseeds", "collapse_check", "collapse_db")
    keep = {k: v for k, v in asdict(opts).items() if k not in skip}
    for k in ("grad_clip", "quant_noise"):  # added later: fits made before they existed keep their fingerprint
        if keep[k] == 0.0:
            del keep[k]
    c = cfg.to_dict()
    if c["weight_quant"] == "tensor":  # likewise
        del c["weight_quant"]
    h.update(json.dumps({"cfg": c, "opts": keep}, sort_keys=True).encode())
    return h.hexdigest()


class _State(nn.Module):
    """Everything a resume needs that is a tensor: model, masks, frozen embeddings, RNG."""

    def __init__(self, model: nn.Module, cfg: INRConfig, gen: torch.Generator) -> None:
        super().__init__()
        self.model = model
        self.masks = nn.ParameterDict()  # not trained; ParameterDict keeps dotted names simple
        for name, p in decoder_module(model).named_parameters():
            if prunable(name, p):
                self.masks[name.replace(".", "__")] = nn.Parameter(torch.ones_like(p), requires_grad=False)
        t, d = cfg.frames, cfg.embed_dim
        shape = (t, d, *cfg.grid) if cfg.arch == "hnerv" else (0,)
        self.register_buffer("emb_q", torch.zeros(shape, dtype=torch.int64))
        self.register_buffer("emb_steps", torch.zeros(d if cfg.arch == "hnerv" else 0, dtype=torch.float64))
        self.register_buffer("gen", gen.get_state().clone())

    def mask(self, name: str) -> Optional[torch.Tensor]:
        key = name.replace(".", "__")
        return self.masks[key] if key in self.masks else None


def fit(planes: tuple[np.ndarray, np.ndarray, np.ndarray], cfg: INRConfig, opts: FitOptions = FitOptions(), *,
        workdir: Optional[Path] = None, progress: bool = True,
        on_step: Optional[Callable[[int], None]] = None) -> FitResult:
    """Fit ``cfg``'s model to the YUV 4:2:0 ``planes``; see the module docstring."""
    opts.check()
    device = pick_device(opts.device)
    t_frames = cfg.frames
    if planes[0].shape[0] != t_frames:
        raise ValueError("frame count differs from the config")
    data = _Frames(planes, cfg)
    ckpt = Path(workdir) / CHECKPOINT_NAME if workdir is not None else None
    with _workdir_lock(workdir):
        return _fit(planes, cfg, opts, data, device, ckpt, progress, on_step)


@contextlib.contextmanager
def _workdir_lock(workdir: Optional[Path]) -> Iterator[None]:
    """One fit per work directory at a time (an advisory lock, released if the process dies)."""
    if workdir is None:
        yield
        return
    Path(workdir).mkdir(parents=True, exist_ok=True)
    with open(Path(workdir) / "lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise NcodecError(f"another encode is fitting into {workdir}; wait for it or remove it") from None
        yield


def _fit(planes, cfg: INRConfig, opts: FitOptions, data: "_Frames", device: torch.device, ckpt: Optional[Path],
         progress: bool, on_step: Optional[Callable[[int], None]]) -> FitResult:
    t_frames = cfg.frames

    def start(attempt: int) -> tuple[nn.Module, torch.Generator, "_State", torch.optim.Optimizer]:
        seed = opts.seed + attempt
        torch.manual_seed(seed)
        # channels-last: ~1.5x faster fitting steps on CPU (benchmarks/nerv_fit_throughput.py)
        model = build_model(cfg).to(device, memory_format=torch.channels_last)
        gen = torch.Generator().manual_seed(seed)
        state = _State(model, cfg, gen).to(device)
        return model, gen, state, torch.optim.Adam([p for p in model.parameters()], lr=opts.lr)

    per_epoch = math.ceil(t_frames / opts.batch)
    total = opts.epochs * per_epoch
    prune_step, qat_step = int(opts.prune_at * total), int(opts.qat_at * total)
    check_step = max(1, int(opts.collapse_check * total))
    warm = max(1, int(opts.warmup * total))
    fp = fingerprint(planes, cfg, opts)
    attempt, step, order = 0, 0, torch.empty(0, dtype=torch.int64)
    gnorm: Optional[float] = None  # running mean of the gradient norm (see the docstring)
    model, gen, state, opt = start(attempt)  # a checkpoint overwrites weights, RNG and optimizer
    if ckpt is not None and ckpt.exists():
        try:
            meta = load_checkpoint(ckpt, state, {"adam": opt})
        except Exception:  # noqa: BLE001 - unreadable: start over
            meta = {}
        if meta.get("fingerprint") == fp:
            step, attempt = int(meta["step"]), int(meta.get("attempt", 0))
            gnorm = meta.get("grad_norm")  # JSON floats round-trip exactly: the resume stays exact
            gen.set_state(state.gen.cpu())
            order = torch.tensor(meta["order"], dtype=torch.int64)
        else:
            model, gen, state, opt = start(attempt)
    resumed_from = step
    per_channel = cfg.weight_quant == "channel"
    dec = decoder_module(model)
    pixels = float(t_frames * cfg.height * cfg.width)
    check_idx = _check_frames(t_frames)
    still_db = still_baseline_db(planes, check_idx) if opts.reseeds > 0 else 0.0

    def collapsed() -> bool:
        """Scores the fit on the check frames (see the module docstring)."""
        with torch.no_grad():
            d = 0.0
            for i in check_idx.split(max(1, opts.batch)):
                y, uv = data.targets(i, device)
                x = model.embed(data.encoder_input(i, device)) if cfg.arch == "hnerv" else i.to(device)
                d += float(distortion(dec(x), y, uv)) * len(i)
        db = -10 * math.log10(max(d / len(check_idx), 1e-12))
        log.info("collapse check, seed %d: %.2f dB, still baseline %.2f dB", opts.seed + attempt, db, still_db)
        trace(f"{attempt},{step},check,{db:.4f},{still_db:.4f}")
        return db < still_db + opts.collapse_db

    trace_every = max(1, total // 100)

    def trace(line: str) -> None:
        if ckpt is not None:
            path = ckpt.parent / "trace.csv"
            new = not path.exists()
            with open(path, "a") as f:
                f.write(("attempt,step,lr_or_check,psnr,still_baseline,grad_norm\n" if new else "") + line + "\n")

    def save() -> None:
        if ckpt is None:
            return
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        state.gen.copy_(gen.get_state())
        save_checkpoint(ckpt, state, {"adam": opt},
                        {"fingerprint": fp, "step": step, "order": order.tolist(), "attempt": attempt,
                         "grad_norm": gnorm})

    def lr_at(s: int) -> float:
        if s < warm:
            return opts.lr * (s + 1) / warm
        x = (s - warm) / max(1, total - warm)
        return opts.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * x)))

    def apply_masks() -> None:
        with torch.no_grad():
            for name, p in dec.named_parameters():
                m = state.mask(name)
                if m is not None:
                    p.mul_(m)

    def freeze_embeddings() -> None:
        with torch.no_grad():
            embs = [model.embed(data.encoder_input(torch.tensor([i]), device)).cpu() for i in range(t_frames)]
            q, steps = wc.quantize_embeddings(torch.cat(embs), cfg.embed_bits)
        state.emb_q.copy_(torch.from_numpy(q))
        state.emb_steps.copy_(torch.tensor(steps, dtype=torch.float64))

    def compute_masks() -> None:
        with torch.no_grad():
            for name, p in dec.named_parameters():
                m = state.mask(name)
                if m is not None and opts.prune > 0:
                    k = int(opts.prune * p.numel())
                    if k > 0:
                        thr = p.abs().flatten().kthvalue(k).values
                        m.copy_((p.abs() > thr).to(m.dtype))
        apply_masks()

    from tqdm import tqdm

    bar = tqdm(total=total, initial=step, disable=not progress, desc=f"fit {cfg.arch}", unit="step",
               dynamic_ncols=True, leave=False)
    last_save, last_estimate = time.monotonic(), -math.inf
    t0 = time.monotonic()
    psnr_ema: Optional[float] = None
    est_kb = 0.0
    try:
        while step < total:
            if step == check_step and attempt < opts.reseeds and collapsed():
                attempt += 1
                model, gen, state, opt = start(attempt)
                dec = decoder_module(model)
                step, order, psnr_ema, gnorm = 0, torch.empty(0, dtype=torch.int64), None, None
                bar.reset(total=total)
                bar.set_description(f"fit {cfg.arch} (collapsed: seed {opts.seed + attempt})")
                continue
            if step == prune_step:
                compute_masks()
            if step == qat_step and cfg.arch == "hnerv" and not bool(state.emb_steps.any()):
                freeze_embeddings()
            if order.numel() == 0:
                order = torch.randperm(t_frames, generator=gen)
            idx, order = order[:opts.batch], order[opts.batch:]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            y, uv = data.targets(idx, device)
            qat = step >= qat_step
            params = {}
            for name, p in dec.named_parameters():
                m = state.mask(name) if step >= prune_step else None
                if opts.quant_noise > 0 and not qat and step >= warm:
                    u = torch.rand(p.shape, generator=gen).to(p.device) - 0.5
                    p = p + opts.quant_noise * u * wc.soft_step(p, cfg.weight_bits, per_channel)
                w = p * m if m is not None else p
                params[name] = wc.fake_quantize(w, cfg.weight_bits, per_channel) if qat else w
            if cfg.arch == "hnerv":
                if qat:
                    x = wc.dequantize_embeddings(state.emb_q[idx.to(device)].cpu().numpy(),
                                                 state.emb_steps.tolist()).to(device)
                else:
                    x = model.embed(data.encoder_input(idx, device))
            else:
                x = idx.to(device)
            out = functional_call(dec, params, (x,))
            d = distortion(out, y, uv)
            loss = d
            if opts.rate_lambda > 0 and not qat:
                w_only = {n: v for n, v in params.items() if prunable(n, v)}
                ramp = min(1.0, step / max(1.0, 0.3 * prune_step))  # let the fit take shape first
                r = rate_bits(w_only, cfg.weight_bits, gen, per_channel) / pixels
                # lambda R in bits per pixel, but never weightier than D itself (see the docstring)
                coeff = min(ramp * opts.rate_lambda, float(d.detach()) / max(float(r.detach()), 1e-12))
                loss = loss + coeff * r
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = _clip_gradients(model, gnorm, opts.grad_clip)
            opt.step()
            if step >= prune_step:
                apply_masks()
            step += 1
            ps = -10 * math.log10(max(float(d.detach()), 1e-12))
            psnr_ema = ps if psnr_ema is None else 0.95 * psnr_ema + 0.05 * ps
            if step % trace_every == 0:
                trace(f"{attempt},{step},{lr_at(step - 1):.6g},{psnr_ema:.4f},,{gnorm:.6g}")
            if progress and time.monotonic() - last_estimate > 15.0:  # the size estimate costs ~0.1 s
                est_kb = estimated_bits(model, state, cfg) / 8000.0
                last_estimate = time.monotonic()
            bar.update(1)
            if progress:
                bar.set_postfix(psnr=f"{psnr_ema:.2f}", kb=f"{est_kb:.1f}", phase=_phase(step, prune_step, qat_step))
            if on_step is not None:
                on_step(step)
            if ckpt is not None and time.monotonic() - last_save > opts.checkpoint_seconds:
                save()
                last_save = time.monotonic()
    except KeyboardInterrupt:
        save()
        bar.close()
        raise
    bar.close()
    if cfg.arch == "hnerv" and not bool(state.emb_steps.any()):
        freeze_embeddings()
    save()
    apply_masks()
    emb = None
    if cfg.arch == "hnerv":
        emb = (state.emb_q.cpu().numpy(), [float(s) for s in state.emb_steps.tolist()])
    sd = {k: v.detach().cpu().float().contiguous() for k, v in dec.state_dict().items()}
    return FitResult(model=model.cpu(), decoder_state=sd, embeddings=emb, steps=total,
                     seconds=time.monotonic() - t0, resumed_from=resumed_from, seed=opts.seed + attempt)


def _clip_gradients(model: nn.Module, mean: Optional[float], c: float) -> float:
    """Clips the gradient norm at ``c`` times its running ``mean`` (``c = 0``: only measures it);
    returns the updated running mean (see the module docstring)."""
    params = [p for p in model.parameters() if p.grad is not None]
    g = float(torch.nn.utils.get_total_norm([p.grad for p in params]))
    if not math.isfinite(g):
        return mean if mean is not None else 0.0
    if mean is None:
        return g
    if c > 0 and g > c * mean:
        torch.nn.utils.clip_grads_with_norm_(params, c * mean, torch.tensor(g))
        g = c * mean
    return 0.99 * mean + 0.01 * g


def _phase(step: int, prune_step: int, qat_step: int) -> str:
    return "qat" if step >= qat_step else "prune" if step >= prune_step else "fit"


def estimated_bits(model: nn.Module, state: _State, cfg: INRConfig) -> float:
    """Coded size of the weights (and embeddings, once frozen) under the real priors."""
    dec = decoder_module(model)
    tensors = {}
    for name, p in dec.named_parameters():
        m = state.mask(name)
        tensors[name] = (p * m if m is not None else p).detach().cpu()
    bits = wc.estimate_bits(tensors, cfg.weight_bits, cfg.weight_quant == "channel", cfg.weight_prior)
    if cfg.arch == "hnerv":
        if bool(state.emb_steps.any()):
            bits += wc.embedding_bits(state.emb_q.cpu().numpy(), cfg.embed_bits, cfg.embed_coding)
        else:
            bits += cfg.embed_count() * cfg.bits_per_embed()
    return bits


__all__ = ["FitOptions", "FitResult", "build_model", "decoder_module", "distortion", "fit", "to_yuv420"]
