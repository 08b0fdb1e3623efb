"""Shape of a NeRV-family model: where it comes from (a frame size and a bit budget) and its limits.

A model is described by :class:`INRConfig`, a small JSON-able record stored in every
stream. It is derived, never hard-coded, from the video's size, frame count and a target
number of bits (:func:`configure`):

* **geometry** -- the decoder upsamples a ``h0 x w0`` grid by ``strides`` (product ``S``) to
  ``S h0 x S w0 >= H x W`` and crops. :func:`choose_strides` picks non-increasing strides
  from ``{5, 4, 3, 2}`` and the grid that waste the least padding while keeping the grid
  near a target number of cells (NeRV: a few dozen cells fed by an MLP; HNeRV: a handful of
  cells per frame, because the per-frame embedding is part of the bitstream).
* **widths** -- block ``i`` has ``max(c_min, round(C / r**i))`` channels (``r = 1.2`` as in
  HNeRV); the first block's convolution is 1x1 (its input is the widest and smallest map),
  the others 3x3 (at the budgets of small videos, 5x5 kernels at the large late maps cost more
  than they give). ``C`` is found by bisection so that the parameter count meets the budget.
* **budget** -- ``target_bits`` (from ``-q`` bits per pixel or ``--size-kb``) is split into
  embedding bits (HNeRV, ``embed_share``: 8 % by default, at least 2 channels) and weight bits at an expected number of coded bits per
  weight after pruning, quantization and entropy coding (:func:`bits_per_param`, calibrated on
  real fits, less :data:`ADAPTIVE_PRIOR_SAVING_BITS` with the adaptive weight model). The embedding channels are counted at the direct coding's 5.2 bits per value and
  budgeted at what their coding really costs (temporal prediction: :data:`BITS_PER_EMBED_TEMPORAL`),
  so the bits that prediction saves buy weights. The final size is measured, not assumed;
  ``BENCHMARKS.md`` shows how close the targets land.

Every field is validated (:meth:`INRConfig.from_dict`) before anything is allocated, so a
hostile stream cannot ask for an unbounded model.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ncodec.errors import CorruptStreamError

ARCHS = ("nerv", "hnerv")
BLOCKS = ("nerv", "enhanced")
MAX_PARAMS = 50_000_000
MAX_CHANNELS = 2048
MAX_BLOCKS = 8
MAX_CELLS = 4096
#: coded bits per weight after 30 % pruning + 8-bit quantization + entropy coding (measured:
#: 5.58 on a 64-frame 320x180 HNeRV fit; 6 bits: 4.18, 5 bits: 3.35, see BENCHMARKS.md)
BITS_PER_PARAM = 5.6
#: each bit of quantizer precision below 8 saves about this much per coded weight (measured)
BITS_PER_PARAM_SLOPE = 0.7
#: one step per output channel instead of per tensor (``weight_quant="channel"``) costs about this
#: much more per weight (a finer grid for the channels without outliers; measured 4.66 vs 4.13 bits
#: at 6 bits on a 300-frame fit) and buys 1.9 dB there before fine-tuning (BENCHMARKS.md)
CHANNEL_QUANT_EXTRA_BITS = 0.5
WEIGHT_QUANTS = ("tensor", "channel")
WEIGHT_PRIORS = ("zero-inflated", "adaptive")
#: an adaptive (count-based) model of each tensor's integers instead of the fitted zero-inflated
#: Laplace saves about this much per weight (measured at 6 bits per channel: 0.105 on chaplin 241
#: frames, 0.154 on basketball 300 frames, BENCHMARKS.md)
ADAPTIVE_PRIOR_SAVING_BITS = 0.13
#: coded bits per HNeRV embedding value (6-bit quantization + entropy coding; measured 5.2) when each
#: channel is coded as it is (``embed_coding="direct"``)
BITS_PER_EMBED = 5.2
#: the same with temporal prediction (``embed_coding="temporal"``, the default; measured 1.84 on
#: chaplin 241 frames, 2.46 on basketball 300 frames, BENCHMARKS.md)
BITS_PER_EMBED_TEMPORAL = 2.0
EMBED_CODINGS = ("direct", "temporal")
EMBED_SHARE = 0.08  # share of the bits for HNeRV embeddings (beat 0.15 / 0.25; 0.04 can collapse, BENCHMARKS.md)
REDUCTION = 1.2
MIN_CHANNELS = 8


@dataclass(frozen=True)
class INRConfig:
    """Everything needed to rebuild a NeRV / HNeRV decoder (weights aside)."""

    arch: str
    block: str
    frames: int
    height: int
    width: int
    grid: tuple[int, int]
    strides: tuple[int, ...]
    channels: tuple[int, ...]  # channels[0] feeds block 0; channels[i + 1] leaves block i
    kernels: tuple[int, ...]
    embed_dim: int  # NeRV: positional-encoding frequencies L; HNeRV: embedding channels d
    mlp_dim: int = 0  # NeRV only
    weight_bits: int = 8
    embed_bits: int = 6
    weight_quant: str = "tensor"  # quantizer step per "tensor" (streams before it existed) or per "channel"
    embed_coding: str = "direct"  # HNeRV embeddings "direct" (streams before it existed) or "temporal"
    weight_prior: str = "zero-inflated"  # weights' model: "zero-inflated" (streams before it existed) or "adaptive"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def padded(self) -> tuple[int, int]:
        s = math.prod(self.strides)
        return self.grid[0] * s, self.grid[1] * s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"], d["strides"] = list(self.grid), list(self.strides)
        d["channels"], d["kernels"] = list(self.channels), list(self.kernels)
        # streams and fit fingerprints from before these fields stay as they were
        if self.embed_coding == "direct":
            del d["embed_coding"]
        if self.weight_prior == "zero-inflated":
            del d["weight_prior"]
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "INRConfig":
        """Validate a config read from a stream (raises :class:`CorruptStreamError`)."""
        try:
            if not isinstance(d, dict):
                raise ValueError("not an object")
            ints = lambda v: [int(x) for x in v if isinstance(x, int) and not isinstance(x, bool)]  # noqa: E731
            cfg = cls(arch=str(d["arch"]), block=str(d["block"]), frames=int(d["frames"]),
                      height=int(d["height"]), width=int(d["width"]), grid=tuple(ints(d["grid"])),
                      strides=tuple(ints(d["strides"])), channels=tuple(ints(d["channels"])),
                      kernels=tuple(ints(d["kernels"])), embed_dim=int(d["embed_dim"]),
                      mlp_dim=int(d.get("mlp_dim", 0)), weight_bits=int(d.get("weight_bits", 8)),
                      embed_bits=int(d.get("embed_bits", 6)), weight_quant=str(d.get("weight_quant", "tensor")),
                      embed_coding=str(d.get("embed_coding", "direct")),
                      weight_prior=str(d.get("weight_prior", "zero-inflated")), extra=dict(d.get("extra", {})))
            cfg.check()
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptStreamError(f"invalid INR model config: {exc}") from None
        return cfg

    def check(self) -> None:
        n = len(self.strides)
        if self.arch not in ARCHS or self.block not in BLOCKS:
            raise ValueError(f"unknown arch/block {self.arch}/{self.block}")
        if not (1 <= n <= MAX_BLOCKS) or len(self.channels) != n + 1 or len(self.kernels) != n:
            raise ValueError("strides, channels and kernels disagree")
        if len(self.grid) != 2 or not all(1 <= g <= MAX_CELLS for g in self.grid) or math.prod(self.grid) > MAX_CELLS:
            raise ValueError(f"bad grid {self.grid}")
        if not all(1 <= s <= 8 for s in self.strides) or not all(k in (1, 3, 5, 7) for k in self.kernels):
            raise ValueError("bad strides or kernels")
        if not all(1 <= c <= MAX_CHANNELS for c in self.channels):
            raise ValueError("bad channel count")
        if not (1 <= self.frames <= 1 << 20) or not (1 <= self.embed_dim <= 256) or not (0 <= self.mlp_dim <= 4096):
            raise ValueError("bad frames / embed_dim / mlp_dim")
        ph, pw = self.padded
        if not (self.height <= ph < self.height + 8 * math.prod(self.strides)
                and self.width <= pw < self.width + 8 * math.prod(self.strides)) or ph * pw > 1 << 26:
            raise ValueError("grid x strides does not cover the frame")
        if not (2 <= self.weight_bits <= 16) or not (2 <= self.embed_bits <= 16):
            raise ValueError("bad quantization bits")
        if self.weight_quant not in WEIGHT_QUANTS:
            raise ValueError(f"weight_quant must be one of {WEIGHT_QUANTS}")
        if self.embed_coding not in EMBED_CODINGS:
            raise ValueError(f"embed_coding must be one of {EMBED_CODINGS}")
        if self.weight_prior not in WEIGHT_PRIORS:
            raise ValueError(f"weight_prior must be one of {WEIGHT_PRIORS}")
        if self.param_count() > MAX_PARAMS:
            raise ValueError(f"model too large ({self.param_count():,} parameters)")

    def param_count(self) -> int:
        """Decoder parameters (what the stream carries), computed without building the model."""
        c, k, s = self.channels, self.kernels, self.strides
        total = 0
        for i in range(len(s)):
            total += c[i] * c[i + 1] * s[i] ** 2 * k[i] ** 2 + c[i + 1] * s[i] ** 2
            if self.block == "enhanced":
                total += c[i] * c[i + 1] + c[i + 1]  # bilinear skip, 1x1 projection
                total += c[i + 1] * 25 + c[i + 1] + c[i + 1] * c[i + 1] + c[i + 1]  # depthwise 5x5 + pointwise
        total += c[-1] * 3 * 9 + 3  # head
        cells = self.grid[0] * self.grid[1]
        if self.arch == "nerv":
            total += 2 * self.embed_dim * self.mlp_dim + self.mlp_dim + self.mlp_dim * c[0] * cells + c[0] * cells
        else:
            total += self.embed_dim * c[0] * 9 + c[0]
        return total

    def decode_bytes(self) -> int:
        """Estimated peak memory of decoding a stream of this config (bytes), without building it.

        Frames are rendered one at a time, so the peak is the output planes
        (``1.5 T H W`` bytes), the weights (``4 P`` bytes as floats, held about four times:
        decoded integers, tensors, the module, its state dict), the embeddings (HNeRV,
        ``4 T d g_h g_w`` twice) and one frame's activations: the largest block output
        ``c_(i+1) g_h g_w (s_1 ... s_(i+1))^2`` floats, and the head's three full-resolution
        planes, each counted four times (input, output, activation, pixel shuffle).
        """
        cells = self.grid[0] * self.grid[1]
        widest, scale = 3 * self.padded[0] * self.padded[1], 1
        for c, s in zip(self.channels[1:], self.strides):
            scale *= s * s
            widest = max(widest, c * cells * scale, self.channels[0] * cells)
        embeddings = 8 * self.frames * self.embed_dim * cells if self.arch == "hnerv" else 0
        planes = self.frames * self.height * self.width * 3 // 2
        return planes + 16 * self.param_count() + embeddings + 16 * widest

    def bits_per_embed(self) -> float:
        """Expected coded bits per embedding value under this config's embedding coding."""
        return BITS_PER_EMBED_TEMPORAL if self.embed_coding == "temporal" else BITS_PER_EMBED

    def embed_count(self) -> int:
        """Embedding values carried in the stream (HNeRV: ``frames x d x h0 x w0``)."""
        return self.frames * self.embed_dim * self.grid[0] * self.grid[1] if self.arch == "hnerv" else 0


def choose_strides(height: int, width: int, target_cells: float, blocks: range = range(3, 7)) -> tuple[tuple[int, ...], tuple[int, int]]:
    """Strides (non-increasing, from 5/4/3/2) and grid covering ``height x width``.

    Score: padding waste plus how far the grid's cell count is from ``target_cells`` (log ratio).
    """
    best: tuple[float, tuple[int, ...], tuple[int, int]] | None = None
    for n in blocks:
        for combo in itertools.combinations_with_replacement((5, 4, 3, 2), n):
            s = math.prod(combo)
            gh, gw = -(-height // s), -(-width // s)
            if gh * gw > MAX_CELLS:
                continue
            waste = (gh * s * gw * s) / (height * width) - 1.0
            # small strides (more, cheaper blocks) break ties: a stride-s block costs s^2 k^2 c_in c_out
            score = 4.0 * waste + abs(math.log(gh * gw / target_cells)) + 0.01 * sum(x * x for x in combo)
            if best is None or score < best[0]:
                best = (score, tuple(combo), (gh, gw))
    assert best is not None
    return best[1], best[2]


def bits_per_param(weight_bits: int) -> float:
    """Expected coded bits per weight for a ``weight_bits`` quantizer (calibrated, see above).

    >>> bits_per_param(8), bits_per_param(6)
    (5.6, 4.2)
    """
    return round(max(1.0, BITS_PER_PARAM - BITS_PER_PARAM_SLOPE * (8 - weight_bits)), 6)


def _widths(top: int, n: int) -> tuple[int, ...]:
    return tuple(max(MIN_CHANNELS, int(round(top / REDUCTION ** i))) for i in range(n + 1))


def configure(arch: str, frames: int, height: int, width: int, target_bits: float, *,
              block: str = "nerv", weight_bits: int = 6, embed_bits: int = 6,
              bits_per_weight: float | None = None, embed_share: float = EMBED_SHARE,
              weight_quant: str = "channel", embed_coding: str = "temporal",
              weight_prior: str = "adaptive") -> INRConfig:
    """A config whose coded size should land near ``target_bits`` (see the module docstring).
    ``bits_per_weight`` (expected coded bits per weight) defaults to :func:`bits_per_param`."""
    if weight_quant not in WEIGHT_QUANTS:
        raise ValueError(f"weight_quant must be one of {WEIGHT_QUANTS}")
    if embed_coding not in EMBED_CODINGS:
        raise ValueError(f"embed_coding must be one of {EMBED_CODINGS}")
    if weight_prior not in WEIGHT_PRIORS:
        raise ValueError(f"weight_prior must be one of {WEIGHT_PRIORS}")
    per_weight = bits_per_param(weight_bits) if bits_per_weight is None else bits_per_weight
    if bits_per_weight is None and weight_quant == "channel":
        per_weight += CHANNEL_QUANT_EXTRA_BITS
    if bits_per_weight is None and weight_prior == "adaptive":
        per_weight -= ADAPTIVE_PRIOR_SAVING_BITS
    if arch not in ARCHS or block not in BLOCKS:
        raise ValueError(f"arch must be one of {ARCHS} and block one of {BLOCKS}")
    if arch == "nerv":
        strides, grid = choose_strides(height, width, target_cells=40)
        embed_dim, mlp = 16, 64
        weight_budget = target_bits
    else:
        strides, grid = choose_strides(height, width, target_cells=10)
        cells = grid[0] * grid[1]
        if not 0.0 < embed_share < 1.0:
            raise ValueError(f"embed_share must be in (0, 1), got {embed_share}")
        # the channel count is sized at the direct coding's cost (the share was tuned with it), so
        # what temporal prediction saves on the same embeddings goes to the weights
        d = int(round(embed_share * target_bits / (frames * cells * BITS_PER_EMBED)))
        embed_dim, mlp = min(max(d, 2), 16), 0
        per_embed = BITS_PER_EMBED_TEMPORAL if embed_coding == "temporal" else BITS_PER_EMBED
        weight_budget = target_bits - frames * embed_dim * cells * per_embed
    target_params = max(weight_budget / per_weight, 1000.0)
    n = len(strides)
    kernels = tuple(1 if i == 0 else 3 for i in range(n))

    def make(top: int) -> INRConfig:
        return INRConfig(arch=arch, block=block, frames=frames, height=height, width=width, grid=grid,
                         strides=strides, channels=_widths(top, n), kernels=kernels, embed_dim=embed_dim,
                         mlp_dim=mlp, weight_bits=weight_bits, embed_bits=embed_bits, weight_quant=weight_quant,
                         embed_coding=embed_coding if arch == "hnerv" else "direct", weight_prior=weight_prior)

    lo, hi = MIN_CHANNELS, MAX_CHANNELS
    while lo < hi:  # largest top width whose parameter count fits the budget
        mid = (lo + hi + 1) // 2
        if make(mid).param_count() <= target_params:
            lo = mid
        else:
            hi = mid - 1
    cfg = make(lo)
    cfg.check()
    return cfg


@dataclass(frozen=True)
class FitOptions:
    """How a NeRV-family fit runs (the codec options of `nerv` / `hnerv`); :meth:`check` validates."""

    epochs: int = 300
    batch: int = 1
    lr: float = 2e-3
    warmup: float = 0.05
    prune: float = 0.3
    prune_at: float = 0.7
    qat_at: float = 0.85
    rate_lambda: float = 0.003
    seed: int = 0
    grad_clip: float = 0.0  # > 0: clip the gradient norm at this multiple of its running mean
    quant_noise: float = 0.0  # > 0: fit phase sees weights + this x U(-1/2, 1/2) quantizer steps
    reseeds: int = 2
    collapse_check: float = 0.1
    collapse_db: float = 1.0
    checkpoint_seconds: float = 60.0
    device: str = "auto"

    def check(self) -> None:
        if self.epochs < 1 or self.batch < 1 or not (0 < self.lr < 1):
            raise ValueError("epochs and batch must be >= 1 and lr in (0, 1)")
        if not (0 <= self.prune < 1) or not (0 < self.prune_at <= self.qat_at <= 1):
            raise ValueError("need 0 <= prune < 1 and 0 < prune_at <= qat_at <= 1")
        if not (self.grad_clip >= 0 and math.isfinite(self.grad_clip)):
            raise ValueError("grad_clip must be >= 0")
        if not (0 <= self.quant_noise <= 4):
            raise ValueError("quant_noise must be in [0, 4]")
        if not (0 <= self.reseeds <= 16) or not (0 < self.collapse_check < self.prune_at):
            raise ValueError("need 0 <= reseeds <= 16 and 0 < collapse_check < prune_at")
