"""The one interface every prior in :mod:`ncodec.entropy` follows.

A prior gives probabilities to integer symbols, for training and for coding, with the same
parameters in the same order in all four methods::

    p = prior.likelihood(values, *params)                  # probabilities (torch), for training
    prior.encode(encoder, symbols, *params)                # symbols -> bits
    symbols = prior.decode(decoder, *params, shape=None)   # bits -> symbols
    n = prior.bits(symbols, *params)                       # ideal size under the coding tables

``params`` are per-element tensors, scales first, then means, then any others
(:class:`ConditionalPrior`: ``scales, means``; :class:`GaussianMixturePrior`: ``scales, means,
weight_logits``; :class:`CategoricalPrior`: ``logits``; :class:`ZeroInflatedPrior`: one
parameter record per group); priors that carry their own parameters take none
(:class:`FactorizedPrior`, :class:`AdaptiveModel`) and are told the ``shape`` to decode.
Swapping priors changes the parameter list, nothing else; swapping coders changes one word.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np

from ncodec.entropy.coders import Decoder, Encoder


@runtime_checkable
class Prior(Protocol):
    """See the module docstring."""

    def likelihood(self, values: Any, *params: Any) -> Any: ...

    def encode(self, enc: Encoder, symbols: Any, *params: Any) -> None: ...

    def decode(self, dec: Decoder, *params: Any, shape: Optional[Any] = None) -> Any: ...

    def bits(self, symbols: Any, *params: Any) -> float: ...


def check_shape(shape: Optional[Any], derived: tuple[int, ...], what: str) -> None:
    """A ``shape`` given to ``decode`` must agree with the one the parameters fix."""
    if shape is not None and tuple(np.atleast_1d(shape)) != tuple(derived):
        raise ValueError(f"shape {tuple(shape)} does not match the {what}' shape {tuple(derived)}")
