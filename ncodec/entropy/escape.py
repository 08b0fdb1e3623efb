"""Exact coding of symbols that fall outside a table's range (never clipped).

A table reserves its last entry as an *escape*. For each escaped value ``v`` outside the
regular range ``[lo, hi]`` we code the distance ``d >= 1`` past the nearer end and the side:
``u = 2 (d - 1) + side``. ``u + 1`` is Elias-gamma coded: its bit length ``n`` (1..64) with
a uniform model over 64 values, then its ``n - 1`` low bits in chunks of at most 16 bits,
each with a uniform model. The cost is about ``2 log2(d) + 7`` bits per escape, and escapes
are rare by construction (table tails hold less than 1e-9 of the mass).
"""

from __future__ import annotations

import constriction
import numpy as np

from ncodec.entropy.coders import Decoder, Encoder
from ncodec.errors import CorruptStreamError

_CHUNK = 16
_LEN_MODEL_SIZE = 64


def bit_length(x: np.ndarray) -> np.ndarray:
    """Bit length of each uint64 (exact, unlike float log2)."""
    n = np.zeros(x.shape, dtype=np.int64)
    t = x.copy()
    while True:
        nz = t > 0
        if not nz.any():
            return n
        n += nz
        t >>= np.uint64(1)


def encode_escapes(enc: Encoder, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Code ``values`` that lie outside ``[lo, hi]`` (element-wise, int64)."""
    if values.size == 0:
        return
    v = values.astype(np.int64)
    below = v < lo
    if np.any(~below & (v <= hi)):
        raise ValueError("escape coding was asked for a value inside the table range")
    d = np.where(below, lo - v, v - hi).astype(np.uint64)  # >= 1
    u1 = (d - np.uint64(1)) * np.uint64(2) + (~below).astype(np.uint64) + np.uint64(1)
    nbits = bit_length(u1)  # 1..64
    uniform = constriction.stream.model.Uniform()
    enc.encode((nbits - 1).astype(np.int32), constriction.stream.model.Uniform(_LEN_MODEL_SIZE))
    mant = u1 - (np.uint64(1) << (nbits - 1).astype(np.uint64))
    mbits = nbits - 1
    for c in range(0, 64, _CHUNK):
        sel = mbits > c
        if not sel.any():
            break
        k = np.minimum(mbits[sel] - c, _CHUNK)
        chunk = (mant[sel] >> np.uint64(c)) & ((np.uint64(1) << k.astype(np.uint64)) - np.uint64(1))
        sizes = (np.int32(1) << k.astype(np.int32)).astype(np.int32)
        enc.encode(chunk.astype(np.int32), uniform, sizes)


def decode_escapes(dec: Decoder, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_escapes`; ``lo``/``hi`` give the count and the ranges."""
    n = lo.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    uniform = constriction.stream.model.Uniform()
    nbits = dec.decode(constriction.stream.model.Uniform(_LEN_MODEL_SIZE), n=n).astype(np.int64) + 1
    mbits = nbits - 1
    mant = np.zeros(n, dtype=np.uint64)
    for c in range(0, 64, _CHUNK):
        sel = mbits > c
        if not sel.any():
            break
        k = np.minimum(mbits[sel] - c, _CHUNK)
        sizes = (np.int32(1) << k.astype(np.int32)).astype(np.int32)
        chunk = dec.decode(uniform, sizes).astype(np.uint64)
        mant[sel] |= chunk << np.uint64(c)
    u1 = mant + (np.uint64(1) << mbits.astype(np.uint64))
    u = u1 - np.uint64(1)
    side = (u & np.uint64(1)).astype(bool)
    d = (u >> np.uint64(1)) + np.uint64(1)
    limit = np.uint64(1 << 62)
    if np.any(d > limit):
        raise CorruptStreamError("escaped symbol out of the representable range")
    d = d.astype(np.int64)
    return np.where(side, hi + d, lo - d)
