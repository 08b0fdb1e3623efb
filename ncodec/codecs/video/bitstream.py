"""Network weights and embeddings -> integers -> entropy-coded chunk, and back.

Quantization is uniform and symmetric, one step per tensor or per output channel (weights,
``per_channel``) or per channel (embeddings). A tensor's step is ``m * 2**e`` with a 16-bit
mantissa ``m`` (``2**15 <= m < 2**16``) and a small exponent, the first such value
``>= max|w| / (2**(bits - 1) - 1)``, so it is exact in float32 and costs three bytes;
``q = round(w / step)`` then lies in ``[-K, K]``, ``K = 2**(bits - 1) - 1``. Pruned weights are
exact zeros and stay zeros.

**Per output channel** (weights of two or more dimensions): channel ``c`` gets the step
``s_c = s * 2**(-j_c / 16)`` below the tensor's step ``s``, ``j_c`` in ``0..255`` the largest with
``s_c >= max|w_c| / K`` (one byte per channel; ``2**(-r / 16)`` comes from a table of 16-bit
integers, so encoder and decoder compute bit-identical steps). One outlier then coarsens only its
own channel instead of the whole tensor: on a fitted 300-frame HNeRV, 6-bit weights cost 0.4 dB
of Y-PSNR per channel against 2.3 dB per tensor (``benchmarks/nerv_weight_quantization.py``).

Each tensor (or embedding channel) is one group, all groups in one ANS stream. Weights are
modelled per tensor either by an :class:`~ncodec.entropy.AdaptiveModel` (``adaptive``: the
histogram is learned while coding, nothing is transmitted for it) or by a
:class:`~ncodec.entropy.ZeroInflatedPrior` with its own fitted zero probability and Laplace
scale (``zero-inflated``, streams before ``adaptive``); embedding channels by a zero-inflated
Gaussian, or a Laplace on their temporal residuals.

Chunk layout (little endian): ``u32 n_groups``, then per group ``u16 m, i8 e, u16 zero,
i16 log_scale`` (7 bytes; ``adaptive``: ``u16 m, i8 e``, 3 bytes), with ``per_channel`` then one ``u8 j_c`` per output channel of every
tensor of two or more dimensions (canonical order), then the ANS payload. Embeddings coded
``temporal`` put one ``u8`` predictor coefficient per channel in the same place. Groups follow the canonical order: the
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

from ncodec.codecs.video.config import EMBED_CODINGS, WEIGHT_PRIORS
from ncodec.entropy import AdaptiveModel, Decoder, Encoder, ZeroInflatedPrior, ZIParams
from ncodec.errors import CorruptStreamError

_GROUP = struct.Struct("<HbHh")
_STEP = struct.Struct("<Hb")  # the group record of the adaptive prior: the step only
#: how a weights chunk models its integers (see :func:`encode_tensors`)
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


#: ``round(2**16 * 2**(-r / 16))`` for r = 0..15: the fractional octave steps of per-channel steps
_OCTAVE = (65536, 62757, 60097, 57549, 55109, 52773, 50535, 48393,
           46341, 44376, 42495, 40693, 38968, 37316, 35734, 34219)


def channel_step(m: int, e: int, j: int) -> float:
    """``m 2^e 2^(-j/16)`` to 32 significant bits, exactly the same on every machine."""
    return math.ldexp(float(m * _OCTAVE[j % 16]), e - 16 - j // 16)


def channel_codes(t: torch.Tensor, code: tuple[int, int], bits: int) -> np.ndarray:
    """``j_c`` per output channel of ``t`` (see the module docstring) under the tensor step ``code``."""
    k = max_level(bits)
    maxes = t.detach().abs().flatten(1).max(1).values.double().cpu().numpy() if t.numel() else np.zeros(t.shape[0])
    out = np.zeros(t.shape[0], dtype=np.uint8)
    for c, mx in enumerate(maxes):
        target = float(mx) / k
        j = 255 if target <= 0 else min(255, max(0, int(16 * math.log2(step_value(*code) / target)) + 1))
        while j > 0 and channel_step(*code, j) < target:  # log2 rounding: walk down to the exact answer
            j -= 1
        out[c] = j
    return out


def channel_steps(code: tuple[int, int], js: np.ndarray) -> torch.Tensor:
    """Float64 steps per output channel, shaped to broadcast over a weight of shape ``(C, ...)``."""
    return torch.tensor([channel_step(*code, int(j)) for j in js], dtype=torch.float64)


def step_for(t: torch.Tensor, bits: int) -> float:
    m = float(t.detach().abs().max()) if t.numel() else 0.0
    return step_value(*step_code(m, bits))


def _steps(shape: tuple[int, ...], code: tuple[int, int], js: np.ndarray | None) -> torch.Tensor | float:
    """The step of every element: one float, or per output channel shaped to broadcast."""
    if js is None:
        return step_value(*code)
    return channel_steps(code, js).view(-1, *([1] * (len(shape) - 1)))


def steps_of(t: torch.Tensor, bits: int, per_channel: bool) -> tuple[tuple[int, int], np.ndarray | None]:
    """The step code of ``t`` and, with ``per_channel`` and two or more dimensions, its channel codes."""
    code = step_code(float(t.detach().abs().max()) if t.numel() else 0.0, bits)
    return code, (channel_codes(t, code, bits) if per_channel and t.dim() >= 2 else None)


def quantize(t: torch.Tensor, step: float | torch.Tensor, bits: int) -> np.ndarray:
    k = max_level(bits)
    q = torch.round(t.detach().double().cpu() / step).clamp_(-k, k)
    return q.to(torch.int64).numpy()


def dequantize(q: np.ndarray, step: float | torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """``q * step`` in float32 (the exact values the decoder uses)."""
    s = step.to(torch.float32) if isinstance(step, torch.Tensor) else torch.tensor(step, dtype=torch.float32)
    return (torch.from_numpy(np.asarray(q, dtype=np.int64)).to(torch.float32).reshape(shape) * s)


def soft_step(t: torch.Tensor, bits: int, per_channel: bool = False) -> torch.Tensor:
    """The quantizer step of ``t`` while fitting (``max|w| / K``, per output channel with
    ``per_channel``; not rounded to a step code), detached and shaped to broadcast over ``t``."""
    a = t.detach().abs()
    if per_channel and t.dim() >= 2:
        a = a.flatten(1).max(1).values.view(-1, *([1] * (t.dim() - 1)))
    else:
        a = a.max()
    return a.clamp(min=1e-12) / max_level(bits)


def fake_quantize(t: torch.Tensor, bits: int, per_channel: bool = False) -> torch.Tensor:
    """Straight-through quantization for quantization-aware fine-tuning."""
    step = soft_step(t, bits, per_channel)
    q = torch.round(t / step).clamp(-max_level(bits), max_level(bits)) * step
    return t + (q - t).detach()


def raw_bytes(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


# ---------------------------------------------------------------------- groups <-> chunk
def _check_prior(prior: str) -> None:
    if prior not in WEIGHT_PRIORS:
        raise ValueError(f"weight prior must be one of {WEIGHT_PRIORS}")


def _encode_groups(groups: Sequence[np.ndarray], steps: Sequence[tuple[int, int]], max_abs: int,
                   distribution: str = "laplace", extra: bytes = b"", prior: str = "zero-inflated") -> bytes:
    _check_prior(prior)
    enc = Encoder()
    if prior == "adaptive":
        table = _COUNT.pack(len(groups)) + b"".join(_STEP.pack(m, e) for m, e in steps)
        model = AdaptiveModel(-max_abs, max_abs)
        for g in groups:
            model.encode(enc, g)
        return table + extra + enc.finish()
    zi = ZeroInflatedPrior(max_abs, distribution)
    params = [zi.fit(g) for g in groups]
    table = _COUNT.pack(len(groups)) + b"".join(
        _GROUP.pack(m, e, p.zero, p.log_scale) for (m, e), p in zip(steps, params))
    zi.encode(enc, groups, params)
    return table + extra + enc.finish()


def _groups_bits(groups: Sequence[np.ndarray], max_abs: int, distribution: str = "laplace",
                 prior: str = "zero-inflated") -> float:
    """Ideal bits of the groups' payload (the table and extra bytes not included)."""
    if prior == "adaptive":
        model = AdaptiveModel(-max_abs, max_abs)
        return float(sum(model.bits(g) for g in groups))
    zi = ZeroInflatedPrior(max_abs, distribution)
    return zi.bits(groups, [zi.fit(g) for g in groups]) if groups else 0.0


def _decode_groups(data: bytes, sizes: Sequence[int], max_abs: int, distribution: str = "laplace",
                   extra: int = 0, prior: str = "zero-inflated") -> tuple[list[np.ndarray], list[tuple[int, int]], bytes]:
    """Groups, their step codes and the ``extra`` bytes between the table and the payload."""
    n = len(sizes)
    record = _STEP if prior == "adaptive" else _GROUP
    head = _COUNT.size + n * record.size
    if len(data) < head + extra or _COUNT.unpack_from(data)[0] != n:
        raise CorruptStreamError(f"coded table does not have the model's {n} groups")
    codes, params = [], []
    for i in range(n):
        m, e, *zi = record.unpack_from(data, _COUNT.size + i * record.size)
        if not ((1 << (_MANTISSA_BITS - 1)) <= m < (1 << _MANTISSA_BITS)) or not (-100 <= e <= 60):
            raise CorruptStreamError("invalid quantization step")
        if zi:
            try:
                params.append(ZIParams.from_list(zi))
            except ValueError as exc:
                raise CorruptStreamError(str(exc)) from None
        codes.append((m, e))
    dec = Decoder(data[head + extra:])
    if prior == "adaptive":
        model = AdaptiveModel(-max_abs, max_abs)
        groups = [model.decode(dec, shape=size) for size in sizes]
    else:
        groups = ZeroInflatedPrior(max_abs, distribution).decode(dec, params, shape=list(sizes))
    return groups, codes, data[head:head + extra]


# ---------------------------------------------------------------------- weights
def tensor_integers(tensors: Mapping[str, torch.Tensor], bits: int,
                    per_channel: bool = False) -> tuple[list[np.ndarray], list[tuple[int, int]], bytes]:
    """The quantized integers of ``tensors`` (sorted name order, flattened), their step codes and
    the per-channel codes as bytes: what a weights chunk stores."""
    groups, codes, extra = [], [], b""
    for name in sorted(tensors):
        t = tensors[name]
        code, js = steps_of(t, bits, per_channel)
        groups.append(quantize(t, _steps(tuple(t.shape), code, js), bits).reshape(-1))
        codes.append(code)
        extra += b"" if js is None else js.tobytes()
    return groups, codes, extra


def encode_tensors(tensors: Mapping[str, torch.Tensor], bits: int, per_channel: bool = False,
                   prior: str = "zero-inflated") -> bytes:
    """Quantize and code ``tensors`` (in sorted name order) into one chunk.

    ``prior``: ``zero-inflated`` (a zero-inflated Laplace fitted per tensor, its two parameters
    in the table; streams before ``adaptive`` existed) or ``adaptive`` (per tensor, a count-based
    model that learns the integers' histogram as it codes them, :class:`~ncodec.entropy.AdaptiveModel`;
    nothing but the steps in the table). On two fitted HNeRV streams the adaptive model spent
    2.3 % and 3.3 % fewer bytes on the same integers (BENCHMARKS.md).
    """
    groups, codes, extra = tensor_integers(tensors, bits, per_channel)
    return _encode_groups(groups, codes, max_level(bits), extra=extra, prior=prior)


def _decode_tensor_groups(data: bytes, expected: Mapping[str, tuple[int, ...]], bits: int, per_channel: bool,
                          prior: str) -> tuple[list[np.ndarray], list[tuple[int, int]], bytes]:
    _check_prior(prior)
    shapes = [tuple(expected[n]) for n in sorted(expected)]
    n_codes = sum(s[0] for s in shapes if len(s) >= 2) if per_channel else 0
    groups, codes, extra = _decode_groups(data, [math.prod(s) for s in shapes], max_level(bits), extra=n_codes,
                                          prior=prior)
    if any(np.abs(g).max(initial=0) > max_level(bits) for g in groups):
        raise CorruptStreamError("quantized weight out of range")
    return groups, codes, extra


def weights_from_chunk(data: bytes, expected: Mapping[str, tuple[int, ...]], bits: int, per_channel: bool = False,
                       prior: str = "zero-inflated") -> tuple[dict[str, np.ndarray], list[tuple[int, int]], bytes]:
    """Entropy decoding only: the integers of every tensor (shaped, by name), the step codes
    (sorted name order) and the per-channel codes, as :func:`encode_tensors` wrote them."""
    names = sorted(expected)
    groups, codes, extra = _decode_tensor_groups(data, expected, bits, per_channel, prior)
    return {n: g.reshape(tuple(expected[n])) for n, g in zip(names, groups)}, codes, extra


def weights_to_chunk(integers: Mapping[str, np.ndarray], codes: Sequence[tuple[int, int]], extra: bytes, bits: int,
                     prior: str = "zero-inflated") -> bytes:
    """Entropy coding only: the inverse of :func:`weights_from_chunk`."""
    groups = [np.asarray(integers[n]).reshape(-1) for n in sorted(integers)]
    return _encode_groups(groups, [tuple(c) for c in codes], max_level(bits), extra=extra, prior=prior)


def dequantize_weights(integers: Mapping[str, np.ndarray], codes: Sequence[tuple[int, int]], extra: bytes,
                       per_channel: bool = False) -> dict[str, torch.Tensor]:
    """The float tensors the decoder loads: ``integer x step`` (per tensor, or per output channel)."""
    js = np.frombuffer(extra, dtype=np.uint8)
    out, at = {}, 0
    for n, code in zip(sorted(integers), codes):
        g = np.asarray(integers[n])
        cj = None
        if per_channel and g.ndim >= 2:
            cj, at = js[at:at + g.shape[0]], at + g.shape[0]
        out[n] = dequantize(g.reshape(-1), _steps(tuple(g.shape), tuple(code), cj), tuple(g.shape))
    return out


def decode_tensors(data: bytes, expected: Mapping[str, tuple[int, ...]], bits: int,
                   per_channel: bool = False, prior: str = "zero-inflated") -> dict[str, torch.Tensor]:
    """Inverse of :func:`encode_tensors`; ``expected`` maps every name to its shape."""
    return dequantize_weights(*weights_from_chunk(data, expected, bits, per_channel, prior), per_channel)


def estimate_bits(tensors: Mapping[str, torch.Tensor], bits: int, per_channel: bool = False,
                  prior: str = "zero-inflated") -> float:
    """Coded size in bits that :func:`encode_tensors` would produce (ideal, without coding)."""
    _check_prior(prior)
    groups, _, extra = tensor_integers(tensors, bits, per_channel)
    record = _STEP if prior == "adaptive" else _GROUP
    return 8.0 * (_COUNT.size + len(groups) * record.size + len(extra)) + _groups_bits(
        groups, max_level(bits), prior=prior)


# ---------------------------------------------------------------------- embeddings
#: embedding coding modes: each channel's integers coded as they are (``direct``, every stream
#: before ``temporal`` existed) or as residuals of a per-channel prediction from the frame before
#: ``temporal``: channel ``c`` predicts ``q_t`` from ``q_(t-1)`` with the coefficient ``a_c / 8``
PREDICTOR_DENOMINATOR = 8


def quantize_embeddings(e: torch.Tensor, bits: int) -> tuple[np.ndarray, list[float]]:
    """``T x d x h x w`` -> integers and one step per channel."""
    steps = [step_for(e[:, c], bits) for c in range(e.shape[1])]
    q = np.stack([quantize(e[:, c], s, bits) for c, s in enumerate(steps)], axis=1)
    return q, steps


def dequantize_embeddings(q: np.ndarray, steps: Sequence[float]) -> torch.Tensor:
    return torch.stack([dequantize(q[:, c], s, q[:, c].shape) for c, s in enumerate(steps)], dim=1)


def _prediction(prev: np.ndarray, a: np.ndarray | int) -> np.ndarray:
    """``floor((a q + D/2) / D)``: ``a / D`` times the previous frame's integers, in integers."""
    d = PREDICTOR_DENOMINATOR
    return np.floor_divide(np.asarray(a, dtype=np.int64) * prev + d // 2, d)


def temporal_residuals(x: np.ndarray, a: int) -> np.ndarray:
    """Residuals of one channel's integers ``x`` (``T x ...``) under the coefficient ``a / 8``.

    ``r_0 = q_0`` and ``r_t = q_t - floor((a q_(t-1) + 4) / 8)``; :func:`temporal_reconstruct`
    inverts it exactly.

    >>> x = np.array([[3], [4], [4], [-2]])
    >>> temporal_residuals(x, 8).ravel().tolist(), temporal_residuals(x, 0).ravel().tolist()
    ([3, 1, 0, -6], [3, 4, 4, -2])
    """
    x = np.asarray(x, dtype=np.int64)
    r = x.copy()
    r[1:] = x[1:] - _prediction(x[:-1], a)
    return r


def temporal_reconstruct(r: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Inverse of :func:`temporal_residuals` for ``T x d x ...`` residuals, ``a`` one coefficient per
    channel ``d``; runs frame by frame in integers (exact)."""
    q = np.asarray(r, dtype=np.int64).copy()
    coeff = np.asarray(a, dtype=np.int64).reshape(1, -1, *([1] * (q.ndim - 2)))[0]
    for t in range(1, q.shape[0]):
        q[t] += _prediction(q[t - 1], coeff)
    return q


def _temporal_plan(q: np.ndarray, bits: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per channel, the coefficient ``a`` in ``0..8`` whose residuals code smallest, and those residuals."""
    prior = ZeroInflatedPrior(2 * max_level(bits), "laplace")
    coeffs, groups = [], []
    for c in range(q.shape[1]):
        best: tuple[float, int, np.ndarray] | None = None
        for a in range(PREDICTOR_DENOMINATOR + 1):
            r = temporal_residuals(q[:, c], a).reshape(-1)
            b = prior.bits([r], [prior.fit(r)])
            if best is None or b < best[0]:
                best = (b, a, r)
        assert best is not None
        coeffs.append(best[1])
        groups.append(best[2])
    return np.asarray(coeffs, dtype=np.uint8), groups


def _step_codes(steps: Sequence[float]) -> list[tuple[int, int]]:
    codes = []
    for s in steps:
        m, e = math.frexp(s)
        codes.append((int(m * (1 << _MANTISSA_BITS)), e - _MANTISSA_BITS))
        if step_value(*codes[-1]) != s:
            raise ValueError("embedding steps must come from quantize_embeddings")
    return codes


def encode_embeddings(q: np.ndarray, steps: Sequence[float], bits: int, coding: str = "direct") -> bytes:
    """Code ``T x d x h x w`` integers and their per-channel steps into one chunk.

    ``direct``: one zero-inflated Gaussian group per channel. ``temporal``: per channel a
    coefficient byte ``a`` (``0..8``, chosen by coded size) after the group table, then the
    residuals of :func:`temporal_residuals` under zero-inflated Laplace groups over
    ``[-2K, 2K]``. Consecutive frames' embeddings are close, so the residuals are small.
    """
    codes = _step_codes(steps)
    if coding == "direct":
        return _encode_groups([q[:, c].reshape(-1) for c in range(q.shape[1])], codes, max_level(bits),
                              EMBED_DISTRIBUTION)
    if coding != "temporal":
        raise ValueError(f"embedding coding must be one of {EMBED_CODINGS}")
    coeffs, groups = _temporal_plan(q, bits)
    return _encode_groups(groups, codes, 2 * max_level(bits), "laplace", extra=coeffs.tobytes())


def embedding_bits(q: np.ndarray, bits: int, coding: str = "direct") -> float:
    """Coded size in bits that :func:`encode_embeddings` would produce (ideal, without coding)."""
    head = 8.0 * (_COUNT.size + q.shape[1] * _GROUP.size)
    if coding == "temporal":
        _, groups = _temporal_plan(q, bits)
        return head + 8.0 * q.shape[1] + _groups_bits(groups, 2 * max_level(bits))
    return head + _groups_bits([q[:, c].reshape(-1) for c in range(q.shape[1])], max_level(bits), EMBED_DISTRIBUTION)


def embeddings_from_chunk(data: bytes, shape: tuple[int, int, int, int], bits: int, coding: str = "direct"
                          ) -> tuple[np.ndarray, list[float]]:
    """Entropy decoding only: the ``T x d x h x w`` integers and per-channel steps of
    :func:`encode_embeddings` (raises :class:`CorruptStreamError` on a damaged chunk)."""
    t, d, h, w = shape
    k = max_level(bits)
    if coding == "direct":
        groups, codes, _ = _decode_groups(data, [t * h * w] * d, k, EMBED_DISTRIBUTION)
        q = np.stack([g.reshape(t, h, w) for g in groups], axis=1)
    elif coding == "temporal":
        groups, codes, extra = _decode_groups(data, [t * h * w] * d, 2 * k, "laplace", extra=d)
        coeffs = np.frombuffer(extra, dtype=np.uint8).astype(np.int64)
        if (coeffs > PREDICTOR_DENOMINATOR).any():
            raise CorruptStreamError("invalid embedding predictor coefficient")
        r = np.stack([g.reshape(t, h, w) for g in groups], axis=1)
        if np.abs(r).max(initial=0) > 2 * k:
            raise CorruptStreamError("embedding residual out of range")
        q = temporal_reconstruct(r, coeffs)
    else:
        raise CorruptStreamError(f"unknown embedding coding {coding!r}")
    if np.abs(q).max(initial=0) > k:
        raise CorruptStreamError("embedding value out of range")
    return q, [step_value(*c) for c in codes]


def decode_embeddings(data: bytes, shape: tuple[int, int, int, int], bits: int, coding: str = "direct") -> torch.Tensor:
    """Inverse of :func:`encode_embeddings`: the dequantized embeddings."""
    return dequantize_embeddings(*embeddings_from_chunk(data, shape, bits, coding))
