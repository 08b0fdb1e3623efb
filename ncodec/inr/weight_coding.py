"""Network weights and embeddings -> integers -> entropy-coded chunk, and back.

Quantization is uniform and symmetric, one step per tensor (weights) or per channel
(embeddings). The step is ``m * 2**e`` with a 16-bit mantissa ``m`` (``2**15 <= m < 2**16``) and
a small exponent, the first such value >= ``max|w| / (2**(bits - 1) - 1)``, so it is exact in
float32 and costs three bytes; ``q = round(w / step)`` then lies in ``[-K, K]``,
``K = 2**(bits - 1) - 1``. Pruned weights are exact zeros and stay zeros.

Each tensor (or embedding channel) is one group of :class:`~ncodec.entropy.ZeroInflatedPrior`
with its own fitted zero probability and scale (Laplace for weights, Gaussian for
embeddings); all groups share one ANS stream.

Chunk layout (little endian): ``u32 n_groups``, then per group ``u16 m, i8 e, u16 zero,
i16 log_scale`` (7 bytes), then the ANS payload. Groups follow the canonical order: the
decoder module's ``state_dict`` names sorted (weights), channel index (embeddings); names and
shapes come from the model the stream's config builds, so they are not stored, and a damaged
table cannot allocate beyond that model. :func:`raw_bytes` is what the same integers cost
stored plainly at ``bits`` bits each -- the yardstick for the entropy coder.
"""

from __future__ import annotations

import math
import struct
from typing import Mapping, Sequence

import numpy as np
import torch

from ncodec.entropy import Decoder, Encoder, ZeroInflatedPrior, ZIParams
from ncodec.errors import CorruptStreamError

_GROUP = struct.Struct("<HbHh")
_COUNT = struct.Struct("<I")
_MANTISSA_BITS = 16
#: weights are peaked (Laplace); HNeRV's embeddings are closer to Gaussian
EMBED_DISTRIBUTION = "gaussian"


def max_level(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def step_code(max_abs: float, bits: int) -> tuple[int, int]:
    """``(m, e)``: the smallest ``m 2^e >= max_abs / K`` with a 16-bit mantissa (1 for all-zero)."""
    target = max_abs / max_level(bits)
    if not target >= 2.0 ** -80:  # zero (or negligible) tensor: every value quantizes to 0
        target = 1.0
    if not math.isfinite(target) or target >= 2.0 ** 70:
        raise ValueError(f"cannot quantize a tensor with magnitude {max_abs}")
    _, e = math.frexp(target)  # target = f 2^e, 0.5 <= f < 1
    e -= _MANTISSA_BITS
    m = math.ceil(target / math.ldexp(1.0, e))
    if m >= 1 << _MANTISSA_BITS:
        m, e = m >> 1, e + 1
    return m, e


def step_value(m: int, e: int) -> float:
    return math.ldexp(float(m), e)


def step_for(t: torch.Tensor, bits: int) -> float:
    m = float(t.detach().abs().max()) if t.numel() else 0.0
    return step_value(*step_code(m, bits))


def quantize(t: torch.Tensor, step: float, bits: int) -> np.ndarray:
    k = max_level(bits)
    q = torch.round(t.detach().double().cpu() / step).clamp_(-k, k)
    return q.to(torch.int64).numpy()


def dequantize(q: np.ndarray, step: float, shape: tuple[int, ...]) -> torch.Tensor:
    """``q * step`` in float32 (the exact values the decoder uses)."""
    return (torch.from_numpy(np.asarray(q, dtype=np.int64)).to(torch.float32)
            * torch.tensor(step, dtype=torch.float32)).reshape(shape)


def fake_quantize(t: torch.Tensor, bits: int) -> torch.Tensor:
    """Straight-through quantization for quantization-aware fine-tuning."""
    step = t.detach().abs().max().clamp(min=1e-12) / max_level(bits)
    q = torch.round(t / step).clamp(-max_level(bits), max_level(bits)) * step
    return t + (q - t).detach()


def raw_bytes(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


# ---------------------------------------------------------------------- groups <-> chunk
def _encode_groups(groups: Sequence[np.ndarray], steps: Sequence[tuple[int, int]], bits: int,
                   distribution: str = "laplace") -> bytes:
    prior = ZeroInflatedPrior(max_level(bits), distribution)
    params = [prior.fit(g) for g in groups]
    table = _COUNT.pack(len(groups)) + b"".join(
        _GROUP.pack(m, e, p.zero, p.log_scale) for (m, e), p in zip(steps, params))
    enc = Encoder()
    prior.encode(enc, groups, params)
    return table + enc.finish()


def _decode_groups(data: bytes, sizes: Sequence[int], bits: int,
                   distribution: str = "laplace") -> tuple[list[np.ndarray], list[float]]:
    n = len(sizes)
    head = _COUNT.size + n * _GROUP.size
    if len(data) < head or _COUNT.unpack_from(data)[0] != n:
        raise CorruptStreamError(f"coded table does not have the model's {n} groups")
    steps, params = [], []
    for i in range(n):
        m, e, zero, ls = _GROUP.unpack_from(data, _COUNT.size + i * _GROUP.size)
        if not ((1 << (_MANTISSA_BITS - 1)) <= m < (1 << _MANTISSA_BITS)) or not (-100 <= e <= 60):
            raise CorruptStreamError("invalid quantization step")
        try:
            params.append(ZIParams.from_list([zero, ls]))
        except ValueError as exc:
            raise CorruptStreamError(str(exc)) from None
        steps.append(step_value(m, e))
    groups = ZeroInflatedPrior(max_level(bits), distribution).decode(Decoder(data[head:]), list(sizes), params)
    return groups, steps


# ---------------------------------------------------------------------- weights
def encode_tensors(tensors: Mapping[str, torch.Tensor], bits: int) -> bytes:
    """Quantize and code ``tensors`` (in sorted name order) into one chunk."""
    groups, steps = [], []
    for name in sorted(tensors):
        t = tensors[name]
        code = step_code(float(t.detach().abs().max()) if t.numel() else 0.0, bits)
        groups.append(quantize(t, step_value(*code), bits).reshape(-1))
        steps.append(code)
    return _encode_groups(groups, steps, bits)


def quantized_tensors(tensors: Mapping[str, torch.Tensor], bits: int) -> dict[str, torch.Tensor]:
    """What the decoder will get for ``tensors``: dequantized, float32."""
    out = {}
    for name, t in tensors.items():
        step = step_for(t, bits)
        out[name] = dequantize(quantize(t, step, bits), step, tuple(t.shape))
    return out


def decode_tensors(data: bytes, expected: Mapping[str, tuple[int, ...]], bits: int) -> dict[str, torch.Tensor]:
    """Inverse of :func:`encode_tensors`; ``expected`` maps every name to its shape."""
    names = sorted(expected)
    groups, steps = _decode_groups(data, [math.prod(expected[n]) for n in names], bits)
    return {n: dequantize(g, s, tuple(expected[n])) for n, g, s in zip(names, groups, steps)}


def estimate_bits(tensors: Mapping[str, torch.Tensor], bits: int) -> float:
    """Coded size in bits that :func:`encode_tensors` would produce (ideal, without coding)."""
    prior = ZeroInflatedPrior(max_level(bits))
    total = 8.0 * (_COUNT.size + len(tensors) * _GROUP.size)
    for t in tensors.values():
        q = quantize(t, step_for(t, bits), bits).reshape(-1)
        total += prior.bits([q], [prior.fit(q)])
    return total


# ---------------------------------------------------------------------- embeddings
def quantize_embeddings(e: torch.Tensor, bits: int) -> tuple[np.ndarray, list[float]]:
    """``T x d x h x w`` -> integers and one step per channel."""
    steps = [step_for(e[:, c], bits) for c in range(e.shape[1])]
    q = np.stack([quantize(e[:, c], s, bits) for c, s in enumerate(steps)], axis=1)
    return q, steps


def dequantize_embeddings(q: np.ndarray, steps: Sequence[float]) -> torch.Tensor:
    return torch.stack([dequantize(q[:, c], s, q[:, c].shape) for c, s in enumerate(steps)], dim=1)


def encode_embeddings(q: np.ndarray, steps: Sequence[float], bits: int) -> bytes:
    codes = []
    for s in steps:
        m, e = math.frexp(s)
        codes.append((int(m * (1 << _MANTISSA_BITS)), e - _MANTISSA_BITS))
        if step_value(*codes[-1]) != s:
            raise ValueError("embedding steps must come from quantize_embeddings")
    return _encode_groups([q[:, c].reshape(-1) for c in range(q.shape[1])], codes, bits, EMBED_DISTRIBUTION)


def embedding_bits(q: np.ndarray, bits: int) -> float:
    prior = ZeroInflatedPrior(max_level(bits), EMBED_DISTRIBUTION)
    groups = [q[:, c].reshape(-1) for c in range(q.shape[1])]
    return 8.0 * (_COUNT.size + len(groups) * _GROUP.size) + prior.bits(groups, [prior.fit(g) for g in groups])


def decode_embeddings(data: bytes, shape: tuple[int, int, int, int], bits: int) -> torch.Tensor:
    t, d, h, w = shape
    groups, steps = _decode_groups(data, [t * h * w] * d, bits, EMBED_DISTRIBUTION)
    q = np.stack([g.reshape(t, h, w) for g in groups], axis=1)
    return dequantize_embeddings(q, steps)
