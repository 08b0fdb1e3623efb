"""The shared entropy layer: every codec's bits go through here.

* coders: :class:`Encoder` / :class:`Decoder` over constriction's ANS (``"ans"``) and
  range coder (``"range"``);
* priors: :class:`FactorizedPrior`, :class:`ConditionalPrior` (Gaussian, Laplace,
  logistic), :class:`GaussianMixturePrior`, :class:`CategoricalPrior`,
  :class:`AdaptiveModel`, :class:`ZeroInflatedPrior` (pruned, quantized weights); each gives a differentiable likelihood for training and exact
  integer tables for coding;
* :mod:`~ncodec.entropy.quantization`: noise / straight-through / rounding.
"""

from ncodec.entropy.adaptive import AdaptiveModel
from ncodec.entropy.categorical import CategoricalPrior
from ncodec.entropy.coders import CODERS, Decoder, Encoder
from ncodec.entropy.conditional import ConditionalPrior
from ncodec.entropy.factorized import FactorizedPrior
from ncodec.entropy.mixture import GaussianMixturePrior
from ncodec.entropy.prior import Prior
from ncodec.entropy.quantization import from_symbols, quantize, to_symbols
from ncodec.entropy.tables import PRECISION, TableSet, quantize_pmf
from ncodec.entropy.zero_inflated import ZeroInflatedPrior, ZIParams

__all__ = [
    "AdaptiveModel", "CODERS", "CategoricalPrior", "ConditionalPrior", "Decoder", "Encoder",
    "FactorizedPrior", "GaussianMixturePrior", "PRECISION", "Prior", "TableSet", "from_symbols", "quantize",
    "quantize_pmf", "to_symbols", "ZeroInflatedPrior", "ZIParams",
]
