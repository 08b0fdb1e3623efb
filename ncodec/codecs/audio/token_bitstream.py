"""Residual-VQ tokens <-> bytes under the learned token prior (:mod:`.token_prior`).

Encoder and decoder walk the tokens in the same order (frame by frame, codebook by codebook)
through the same calls, :func:`walk`, with the prior and the codebooks in float64 numpy
(:class:`~.token_prior.StepPrior`: the logits pick the tables, so they must not depend on the
CPU's float32 kernels, see :mod:`ncodec.determinism`); the encoder then codes every token under its row of
logits in one :class:`~ncodec.entropy.CategoricalPrior` call, and the decoder decodes them one
at a time, each row's logits computed from the tokens decoded before it. The rows are the same
floats on both sides, so the tables are the same integers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ncodec.codecs.audio.token_prior import StepPrior
from ncodec.entropy import CategoricalPrior
from ncodec.entropy.coders import Decoder, Encoder
from ncodec.errors import CorruptStreamError

PRIOR = CategoricalPrior()


def walk(model, n: int, frames: int, next_token: Callable[[np.ndarray, int, int], int]) -> np.ndarray:
    """Tokens ``n x frames``: ``next_token(logits, t, k)`` gives each one, given its logits row."""
    out = np.empty((n, frames), np.int64)
    step = StepPrior(model.prior, model.rvq.embed)
    h = step.start()
    for t in range(frames):
        partial = np.zeros(model.D)
        for k in range(n):
            tok = next_token(step.frame_logits(h, partial, k), t, k)
            out[k, t] = tok
            partial = partial + step.embed[k, tok]
        h = step.advance(h, partial)
    return out


def _logit_rows(model, tokens: np.ndarray) -> np.ndarray:
    n, frames = tokens.shape
    rows = np.empty((frames, n, model.size), np.float64)

    def given(logits: np.ndarray, t: int, k: int) -> int:
        rows[t, k] = logits
        return int(tokens[k, t])

    walk(model, n, frames, given)
    return rows


def encode_tokens(model, tokens: np.ndarray, coder: str = "ans") -> bytes:
    """Bytes of ``tokens`` (``n x frames``, each in ``0..V-1``)."""
    enc = Encoder(coder)
    PRIOR.encode(enc, tokens.T, _logit_rows(model, tokens))
    return enc.finish()


def decode_tokens(model, data: bytes, n: int, frames: int, coder: str = "ans") -> np.ndarray:
    dec = Decoder(data, coder)

    def decoded(logits: np.ndarray, t: int, k: int) -> int:
        tok = int(PRIOR.decode(dec, logits[None], shape=(1,))[0])
        if not 0 <= tok < model.size:
            raise CorruptStreamError("token outside the codebook")
        return tok

    return walk(model, n, frames, decoded)


def token_bits(model, tokens: np.ndarray) -> float:
    """Bits :func:`encode_tokens` will spend on ``tokens`` (the tables' ideal code length)."""
    return PRIOR.bits(tokens.T, _logit_rows(model, tokens))
