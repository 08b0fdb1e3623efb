"""Adaptive (count-based) model for symbols that have no learned prior.

Symbols in ``[low, high]`` are coded in blocks; block ``b`` uses a table built from the
counts of everything coded before it (all counts start at 1), and the decoder rebuilds the
same counts as it goes: backward adaptation, nothing transmitted. Blocks start small
(16 symbols) and double up to ``max_block`` so short messages adapt quickly while long
ones cost one table per block. When the total count passes ``2**20`` all counts are halved
(rounding up), which follows slowly drifting statistics. Tables are built from the integer
counts with integer arithmetic only, so coding is exactly reproducible anywhere. Values
outside ``[low, high]`` are escape-coded exactly.

>>> import numpy as np
>>> from ncodec.entropy import AdaptiveModel, Encoder, Decoder
>>> m = AdaptiveModel(0, 3)
>>> enc = Encoder(); m.encode(enc, np.array([1, 1, 1, 2, 9])); data = enc.finish()
>>> m.decode(Decoder(data), shape=5).tolist()
[1, 1, 1, 2, 9]
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ncodec.entropy.coders import Decoder, Encoder
from ncodec.entropy.tables import TOTAL, TableSet

MAX_ALPHABET = 1 << 16
_RESCALE_AT = 1 << 20


def _counts_to_pmf(counts: np.ndarray) -> np.ndarray:
    """Integer-only: entries ``1 + counts * (TOTAL - W) // sum``, remainder to the mode."""
    w = counts.size
    f = counts * (TOTAL - w) // int(counts.sum()) + 1
    f[int(np.argmax(counts))] += TOTAL - int(f.sum())
    return f


class AdaptiveModel:
    """Backward-adaptive frequency model over the alphabet ``low..high`` (plus an escape)."""

    def __init__(self, low: int, high: int, *, max_block: int = 4096, first_block: int = 16) -> None:
        if not (0 < high - low + 1 <= MAX_ALPHABET):
            raise ValueError(f"alphabet size must be 1..{MAX_ALPHABET}")
        self.low, self.high = int(low), int(high)
        self.max_block, self.first_block = int(max_block), int(first_block)

    def _blocks(self, n: int) -> Iterator[tuple[int, int]]:
        a, size = 0, self.first_block
        while a < n:
            yield a, min(n, a + size)
            a += size
            size = min(size * 2, self.max_block)

    def _run(self, n: int, step) -> None:
        counts = np.ones(self.high - self.low + 2, dtype=np.int64)  # + escape
        for a, b in self._blocks(n):
            table = TableSet([_counts_to_pmf(counts)], np.array([self.low]))
            seen = step(table, a, b)
            reg = np.clip(seen - self.low, 0, counts.size - 1)
            outside = (seen < self.low) | (seen > self.high)
            reg[outside] = counts.size - 1
            counts += np.bincount(reg, minlength=counts.size)
            if counts.sum() > _RESCALE_AT:
                counts = (counts + 1) // 2

    def encode(self, enc: Encoder, symbols: np.ndarray) -> None:
        x = np.asarray(symbols, dtype=np.int64).reshape(-1)

        def step(table: TableSet, a: int, b: int) -> np.ndarray:
            table.encode(enc, x[a:b], np.zeros(b - a, dtype=np.int64))
            return x[a:b]
        self._run(x.size, step)

    def decode(self, dec: Decoder, *, shape: int | tuple[int, ...]) -> np.ndarray:
        out = np.empty(int(np.prod(shape)), dtype=np.int64)

        def step(table: TableSet, a: int, b: int) -> np.ndarray:
            out[a:b] = table.decode(dec, np.zeros(b - a, dtype=np.int64))
            return out[a:b]
        self._run(out.size, step)
        return out.reshape(shape)

    def likelihood(self, values: Any) -> Any:
        """The probability the model gives each value in coding order (it adapts as it goes, so
        this is a measurement, not differentiable: counts have no gradient)."""
        import torch

        x = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values).astype(np.int64).reshape(-1)
        p = np.empty(x.size, dtype=np.float64)

        def step(table: TableSet, a: int, b: int) -> np.ndarray:
            p[a:b] = [2.0 ** -table.bits(x[i:i + 1], np.zeros(1, dtype=np.int64)) for i in range(a, b)]
            return x[a:b]
        self._run(x.size, step)
        return torch.from_numpy(p.reshape(np.shape(values)))

    def bits(self, symbols: np.ndarray) -> float:
        x = np.asarray(symbols, dtype=np.int64).reshape(-1)
        total = [0.0]

        def step(table: TableSet, a: int, b: int) -> np.ndarray:
            total[0] += table.bits(x[a:b], np.zeros(b - a, dtype=np.int64))
            return x[a:b]
        self._run(x.size, step)
        return total[0]
