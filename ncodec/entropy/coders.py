"""Stream coders: constriction's ANS (stack) and range coder (queue) behind one interface.

An :class:`Encoder` records a sequence of ``encode(symbols, model, *params)`` calls and
:class:`Decoder` answers the same sequence of ``decode(model, *params)`` calls in the same
order. ANS is a stack (last in, first out), so the ANS encoder buffers the calls and
replays them in reverse at :meth:`Encoder.finish`; the range coder is a queue and codes
them as they come. Swapping coders therefore changes only the ``coder=`` argument::

    >>> import numpy as np
    >>> import constriction
    >>> model = constriction.stream.model.Categorical(np.array([0.5, 0.25, 0.25]), perfect=False)
    >>> enc = Encoder("range")
    >>> enc.encode(np.array([0, 2, 1, 0], dtype=np.int32), model)
    >>> data = enc.finish()
    >>> Decoder(data, "range").decode(model, n=4).tolist()
    [0, 2, 1, 0]

Models are constriction models (concrete, or a family with per-symbol parameters). The
bytes are the coder's 32-bit words, little-endian.
"""

from __future__ import annotations

from typing import Any, Literal

import constriction
import numpy as np

from ncodec.errors import CorruptStreamError

CoderName = Literal["ans", "range"]
CODERS: tuple[str, ...] = ("ans", "range")


def _check_coder(coder: str) -> None:
    if coder not in CODERS:
        raise ValueError(f"unknown entropy coder {coder!r}; choose one of {', '.join(CODERS)}")


class Encoder:
    """Collects symbols with their models; :meth:`finish` returns the compressed bytes."""

    def __init__(self, coder: CoderName = "ans") -> None:
        _check_coder(coder)
        self.coder = coder
        self._ops: list[tuple[np.ndarray, Any, tuple[Any, ...]]] = []
        self._range = constriction.stream.queue.RangeEncoder() if coder == "range" else None
        self._finished = False

    def encode(self, symbols: np.ndarray, model: Any, *params: np.ndarray) -> None:
        """Encode ``symbols`` (int32, 1-D) with a constriction ``model`` (and its per-symbol params)."""
        if self._finished:
            raise RuntimeError("encoder already finished")
        symbols = np.ascontiguousarray(symbols, dtype=np.int32).reshape(-1)
        params = tuple(np.ascontiguousarray(p) for p in params)
        if symbols.size == 0:
            return
        if self._range is not None:
            self._range.encode(symbols, model, *params)
        else:
            self._ops.append((symbols, model, params))

    def finish(self) -> bytes:
        """Return the compressed stream; the encoder cannot be used afterwards."""
        self._finished = True
        if self._range is not None:
            words = self._range.get_compressed()
        else:
            ans = constriction.stream.stack.AnsCoder()
            for symbols, model, params in reversed(self._ops):
                ans.encode_reverse(symbols, model, *params)
            self._ops.clear()
            words = ans.get_compressed()
        return np.asarray(words, dtype="<u4").tobytes()


class Decoder:
    """Decodes a stream made by :class:`Encoder` with the same coder, call for call."""

    def __init__(self, data: bytes, coder: CoderName = "ans") -> None:
        _check_coder(coder)
        self.coder = coder
        if len(data) % 4:
            raise CorruptStreamError(f"entropy-coded stream of {len(data)} bytes is not a whole number of words")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        try:
            self._dec = constriction.stream.stack.AnsCoder(words) if coder == "ans" else constriction.stream.queue.RangeDecoder(words)
        except Exception as exc:  # constriction rejects e.g. an ANS stream ending in a zero word
            raise CorruptStreamError(f"invalid {coder} stream: {exc}") from None

    def decode(self, model: Any, *params: np.ndarray, n: int | None = None) -> np.ndarray:
        """Decode ``n`` symbols (concrete model) or one per row of ``params`` (model family)."""
        try:
            if params:
                params = tuple(np.ascontiguousarray(p) for p in params)
                if len(params[0]) == 0:
                    return np.zeros(0, dtype=np.int32)
                out = self._dec.decode(model, *params)
            else:
                if n is None:
                    raise ValueError("decode with a concrete model needs n")
                if n == 0:
                    return np.zeros(0, dtype=np.int32)
                out = self._dec.decode(model, int(n))
        except (ValueError, RuntimeError, AssertionError) as exc:
            raise CorruptStreamError(f"entropy decoding failed: {exc}") from None
        return np.asarray(out, dtype=np.int32).reshape(-1)

    def exhausted(self) -> bool:
        """True when the whole stream was consumed (a well-formed stream ends exactly)."""
        if self.coder == "ans":
            return bool(self._dec.is_empty())
        return bool(self._dec.maybe_exhausted())
