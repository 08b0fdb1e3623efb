"""Integer probability tables and the two ways symbols are coded with them.

Every prior ends here. A table is an integer PMF that sums exactly to ``2**PRECISION``
with every entry >= 1; its last entry is the *escape* for values outside the table's
range (coded exactly by :mod:`ncodec.entropy.escape`). Tables are derived from float64
probabilities by :func:`quantize_pmf`, a deterministic fixed-precision rule: the same
probabilities always give the same integers, whatever the thread count or batch.

* :class:`TableSet` -- a fixed set of shared tables (factorized per-channel densities,
  scale tables, adaptive blocks). Symbols are grouped by table (stable radix sort) and each
  group is coded with one concrete model: this is what makes 1 M symbols code in
  milliseconds.
* :func:`encode_rows` / :func:`decode_rows` -- one table per symbol (mixtures, categorical
  logits), coded with constriction's categorical model family.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence

import constriction
import numpy as np

from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.escape import bit_length, decode_escapes, encode_escapes
from ncodec.errors import CorruptStreamError

PRECISION = 24
TOTAL = 1 << PRECISION
#: Row-wise coding works in chunks of at most this many table entries (bounds memory).
ROW_CHUNK_ENTRIES = 1 << 22
_ESCAPE_LEN_BITS = 6.0


def quantize_pmf(probs: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Float probabilities ``(..., W)`` -> int64 PMF rows summing to ``2**precision``.

    Each entry gets ``1 + floor(p * (2**precision - W))`` and the remainder goes to the most
    probable entry. Every symbol stays codable, the rule is exact integer arithmetic after
    one float64 multiply, and it depends on nothing but the row itself.

    >>> quantize_pmf(np.array([0.5, 0.25, 0.25, 0.0]), precision=4).tolist()
    [7, 4, 4, 1]
    """
    p = np.asarray(probs, dtype=np.float64)
    w = p.shape[-1]
    total = 1 << precision
    if w < 2 or w > total // 2:
        raise ValueError(f"a table needs 2..{total // 2} entries, got {w}")
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    s = p.sum(axis=-1, keepdims=True)
    p = np.where(s > 0, p / np.where(s > 0, s, 1.0), 1.0 / w)
    free = total - w
    f = np.floor(p * free).astype(np.int64)
    f = np.minimum(f, free) + 1
    rem = total - f.sum(axis=-1)
    mode = np.argmax(p, axis=-1)
    np.put_along_axis(f, mode[..., None], np.take_along_axis(f, mode[..., None], -1) + rem[..., None], -1)
    return f


def _model(pmf: np.ndarray) -> Any:
    return constriction.stream.model.Categorical(pmf.astype(np.float64) / TOTAL, perfect=False)


def coded_pmf(pmf: np.ndarray) -> np.ndarray:
    """The integer PMF constriction actually codes with when given ``pmf / TOTAL``.

    constriction's fast quantization (used with ``perfect=False``) sets the left cumulative
    of entry ``i`` to ``floor(c_i * (TOTAL - n) / c_n) + i`` where ``c_i`` is the running
    float64 sum of the probabilities before ``i``. It is not the identity on an already
    quantized PMF (1-unit tail entries can become 2), so rate estimates use this function,
    which repeats the same float64 operations in the same order.
    """
    p = pmf.astype(np.float64) / TOTAL
    n = p.shape[-1]
    c = np.cumsum(p, axis=-1)
    scale = float(TOTAL - n) / c[..., -1:]
    left_float = np.concatenate([np.zeros(p.shape[:-1] + (1,)), c[..., :-1]], axis=-1)
    left = np.floor(left_float * scale).astype(np.int64) + np.arange(n)
    right = np.concatenate([left[..., 1:], np.full(p.shape[:-1] + (1,), TOTAL, dtype=np.int64)], axis=-1)
    return right - left


class TableSet:
    """Shared integer tables. Table ``t`` covers the values ``offset(t) .. offset(t)+len-2``;
    its last entry is the escape.

    Build it from explicit ``pmfs``/``offsets``, or from a ``factory(t) -> (pmf, offset)``
    that is called the first time table ``t`` is used (large families such as the
    scale x mean-offset tables of :class:`~ncodec.entropy.conditional.ConditionalPrior`).
    """

    def __init__(self, pmfs: Optional[Sequence[np.ndarray]] = None, offsets: Optional[np.ndarray] = None,
                 *, factory: Optional[Callable[[int], tuple[np.ndarray, int]]] = None,
                 size: Optional[int] = None) -> None:
        self._pmfs: dict[int, np.ndarray] = {}
        self._coded: dict[int, np.ndarray] = {}
        self._offsets: dict[int, int] = {}
        self._models: dict[int, Any] = {}
        self._factory = factory
        if factory is None:
            if pmfs is None or offsets is None:
                raise ValueError("give pmfs and offsets, or a factory and a size")
            offsets = np.asarray(offsets, dtype=np.int64).reshape(-1)
            if len(pmfs) != offsets.size:
                raise ValueError("one offset per table is required")
            for t, (p, o) in enumerate(zip(pmfs, offsets)):
                self._store(t, np.asarray(p), int(o))
            self._size = len(pmfs)
        else:
            if size is None:
                raise ValueError("a factory needs the number of tables")
            self._size = int(size)

    @staticmethod
    def _check(p: np.ndarray) -> None:
        if p.ndim != 1 or p.size < 2 or int(p.sum()) != TOTAL or int(p.min()) < 1:
            raise ValueError("each table must be a 1-D int PMF of >= 2 entries summing to 2**PRECISION")

    def _store(self, t: int, p: np.ndarray, offset: int) -> None:
        p = p.astype(np.int64)
        self._check(p)
        self._pmfs[t] = p
        self._offsets[t] = offset

    @classmethod
    def from_probs(cls, probs: Sequence[np.ndarray], offsets: np.ndarray) -> "TableSet":
        """Build from float probabilities of the regular entries (escape mass appended)."""
        return cls([pmf_with_escape(p) for p in probs], np.asarray(offsets))

    def __len__(self) -> int:
        return self._size

    def pmf(self, t: int) -> np.ndarray:
        p = self._pmfs.get(t)
        if p is None:
            assert self._factory is not None
            pmf, offset = self._factory(t)
            self._store(t, pmf, int(offset))
            p = self._pmfs[t]
        return p

    def coded(self, t: int) -> np.ndarray:
        """Integer PMF that the coder really uses for table ``t`` (see :func:`coded_pmf`)."""
        c = self._coded.get(t)
        if c is None:
            c = self._coded[t] = coded_pmf(self.pmf(t))
        return c

    def offset(self, t: int) -> int:
        self.pmf(t)
        return self._offsets[t]

    def model(self, t: int) -> Any:
        m = self._models.get(t)
        if m is None:
            m = self._models[t] = _model(self.pmf(t))
        return m

    # ------------------------------------------------------------------ grouping
    def _layout(self, indexes: np.ndarray) -> "_Layout":
        """Sort symbols by table (stable radix sort); per-symbol offset and escape index."""
        idx = np.asarray(indexes).reshape(-1)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= self._size):
            raise ValueError(f"table index outside 0..{self._size - 1}")
        key = idx.astype(np.int16 if self._size < 1 << 15 else np.int32)
        order = np.argsort(key, kind="stable")
        sidx = key[order]
        starts = np.flatnonzero(np.diff(sidx, prepend=-1))
        ends = np.append(starts[1:], idx.size)
        used = sidx[starts].astype(np.int64)
        off = np.zeros(self._size, dtype=np.int64)
        nreg = np.zeros(self._size, dtype=np.int64)
        for t in used.tolist():
            off[t] = self.offset(t)
            nreg[t] = self.pmf(t).size - 1
        return _Layout(order, sidx, starts, ends, used, off[sidx], nreg[sidx])

    # ------------------------------------------------------------------ coding
    def encode(self, enc: Encoder, values: np.ndarray, indexes: np.ndarray) -> None:
        """Code integer ``values`` with table ``indexes`` (same shape)."""
        values = np.asarray(values).reshape(-1)
        if values.size != np.size(indexes):
            raise ValueError("values and indexes must have the same size")
        lay = self._layout(indexes)
        sym, esc = split_escapes(values[lay.order].astype(np.int64), lay.off, lay.nreg)
        sym = sym.astype(np.int32)
        for t, a, b in zip(lay.used.tolist(), lay.starts.tolist(), lay.ends.tolist()):
            enc.encode(sym[a:b], self.model(t))
        if esc.any():
            lo = lay.off[esc]
            encode_escapes(enc, values[lay.order[esc]], lo, lo + lay.nreg[esc] - 1)

    def decode(self, dec: Decoder, indexes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`; returns int64 values shaped like ``indexes``."""
        shape = np.shape(indexes)
        lay = self._layout(indexes)
        sym = np.empty(lay.order.size, dtype=np.int64)
        for t, a, b in zip(lay.used.tolist(), lay.starts.tolist(), lay.ends.tolist()):
            sym[a:b] = dec.decode(self.model(t), n=b - a)
        if sym.size and (int(sym.min()) < 0 or np.any(sym > lay.nreg)):
            raise CorruptStreamError("decoded symbol outside its table")
        esc = sym == lay.nreg
        vals = sym + lay.off
        if esc.any():
            lo = lay.off[esc]
            vals[esc] = decode_escapes(dec, lo, lo + lay.nreg[esc] - 1)
        out = np.empty_like(vals)
        out[lay.order] = vals
        return out.reshape(shape)

    def bits(self, values: np.ndarray, indexes: np.ndarray) -> float:
        """Ideal code length in bits of ``values`` under these integer tables (escapes included)."""
        values = np.asarray(values).reshape(-1)
        lay = self._layout(indexes)
        sym, esc = split_escapes(values[lay.order].astype(np.int64), lay.off, lay.nreg)
        total = 0.0
        for t, a, b in zip(lay.used.tolist(), lay.starts.tolist(), lay.ends.tolist()):
            total += float(np.sum(PRECISION - np.log2(self.coded(t)[sym[a:b]])))
        if esc.any():
            lo = lay.off[esc]
            total += _escape_bits(values[lay.order[esc]].astype(np.int64), lo, lo + lay.nreg[esc] - 1)
        return total


class _Layout(NamedTuple):
    order: np.ndarray  # symbol positions sorted by table
    sidx: np.ndarray  # table of each sorted symbol
    starts: np.ndarray  # group boundaries in sorted order
    ends: np.ndarray
    used: np.ndarray  # table of each group
    off: np.ndarray  # offset of each sorted symbol's table
    nreg: np.ndarray  # regular entries (= escape index) of each sorted symbol's table


def split_escapes(values: np.ndarray, offsets: Any, nreg: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(symbols, escaped)``: ``values - offsets`` where it falls in a table's regular entries
    ``0..nreg-1``, else the escape index ``nreg``; and which values escaped."""
    v = values - offsets
    esc = (v < 0) | (v >= nreg)
    return np.where(esc, nreg, v), esc


def pmf_with_escape(probs: np.ndarray) -> np.ndarray:
    """Quantize probabilities of the regular entries, giving the escape the missing mass."""
    p = np.asarray(probs, dtype=np.float64)
    tail = max(0.0, 1.0 - float(p.sum()))
    return quantize_pmf(np.append(p, tail))


def _escape_bits(v: np.ndarray, lo: Any, hi: Any) -> float:
    """Exact cost of :func:`encode_escapes`: 6 bits of length plus the Elias-gamma mantissa."""
    below = v < lo
    d = np.where(below, lo - v, v - hi).astype(np.uint64)
    u1 = (d - np.uint64(1)) * np.uint64(2) + (~below).astype(np.uint64) + np.uint64(1)
    return float(np.sum(_ESCAPE_LEN_BITS + bit_length(u1) - 1))


# ---------------------------------------------------------------------- per-symbol tables
def _row_chunks(n: int, width: int):
    step = max(1, ROW_CHUNK_ENTRIES // max(width, 1))
    for a in range(0, n, step):
        yield a, min(n, a + step)


def encode_rows(enc: Encoder, values: np.ndarray, pmf_fn, n: int, width: int) -> None:
    """Code ``n`` values, each with its own table.

    ``pmf_fn(a, b)`` returns ``(pmfs, offsets)`` for elements ``a:b``: int64 PMFs of shape
    ``(b - a, width)`` (last column = escape) and the value of each row's entry 0. Rows are
    produced in bounded chunks so memory stays ``O(ROW_CHUNK_ENTRIES)``.
    """
    values = np.asarray(values).reshape(-1).astype(np.int64)
    family = constriction.stream.model.Categorical(perfect=False)
    esc_v, esc_lo = [], []
    for a, b in _row_chunks(n, width):
        pmfs, offsets = pmf_fn(a, b)
        sym, esc = split_escapes(values[a:b], offsets, width - 1)
        enc.encode(sym.astype(np.int32), family, pmfs.astype(np.float64) / TOTAL)
        if esc.any():
            esc_v.append(values[a:b][esc])
            esc_lo.append(offsets[esc])
    if esc_v:
        lo = np.concatenate(esc_lo)
        encode_escapes(enc, np.concatenate(esc_v), lo, lo + width - 2)


def decode_rows(dec: Decoder, pmf_fn, n: int, width: int) -> np.ndarray:
    """Inverse of :func:`encode_rows`."""
    family = constriction.stream.model.Categorical(perfect=False)
    out = np.empty(n, dtype=np.int64)
    esc_pos, esc_lo = [], []
    for a, b in _row_chunks(n, width):
        pmfs, offsets = pmf_fn(a, b)
        sym = dec.decode(family, pmfs.astype(np.float64) / TOTAL)
        if sym.size != b - a or (sym.size and (sym.min() < 0 or sym.max() >= width)):
            raise CorruptStreamError("decoded symbol outside its table")
        out[a:b] = sym + offsets
        esc = sym == width - 1
        if esc.any():
            esc_pos.append(np.flatnonzero(esc) + a)
            esc_lo.append(offsets[esc])
    if esc_pos:
        pos = np.concatenate(esc_pos)
        lo = np.concatenate(esc_lo)
        out[pos] = decode_escapes(dec, lo, lo + width - 2)
    return out


def rows_bits(values: np.ndarray, pmf_fn, n: int, width: int) -> float:
    """Ideal bits of ``values`` under per-symbol tables from ``pmf_fn`` (see :func:`encode_rows`)."""
    values = np.asarray(values).reshape(-1).astype(np.int64)
    total = 0.0
    for a, b in _row_chunks(n, width):
        pmfs, offsets = pmf_fn(a, b)
        sym, esc = split_escapes(values[a:b], offsets, width - 1)
        coded = coded_pmf(pmfs)
        total += float(np.sum(PRECISION - np.log2(np.take_along_axis(coded, sym[:, None], 1)[:, 0])))
        if esc.any():
            total += _escape_bits(values[a:b][esc], offsets[esc], offsets[esc] + width - 2)
    return total
