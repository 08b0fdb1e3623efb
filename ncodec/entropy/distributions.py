"""Symmetric location-scale distributions, as CDFs in torch (training) and numpy (tables).

For a distribution with CDF ``F`` and scale ``s`` the probability of the integer ``k`` given
a centre ``c`` is ``P(k) = F((k - c + 1/2) / s) - F((k - c - 1/2) / s)``. Because ``F`` is
symmetric, ``P`` depends on ``|k - c|`` only, and it is computed as
``F((1/2 - |k - c|) / s) - F((-1/2 - |k - c|) / s)``: both arguments lie in the lower tail
where ``F`` is accurate, so tail probabilities do not cancel to zero.

* Gaussian: ``F(x) = (1 + erf(x / sqrt 2)) / 2``; ``s`` is the standard deviation.
* Laplace: ``F(x) = exp(x) / 2`` for ``x < 0``; ``s`` is the diversity ``b``.
* Logistic: ``F(x) = 1 / (1 + exp(-x))``; ``s`` is the scale.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import torch

DISTRIBUTIONS = ("gaussian", "laplace", "logistic")


def check(name: str) -> str:
    if name not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {name!r}; choose one of {', '.join(DISTRIBUTIONS)}")
    return name


def cdf_lower_np(name: str, x: np.ndarray) -> np.ndarray:
    """``F(x)`` in float64, accurate for ``x <= 0``."""
    if name == "gaussian":
        return scipy.special.ndtr(x)
    if name == "laplace":
        return 0.5 * np.exp(np.minimum(x, 0.0)) if np.all(x <= 0) else np.where(
            x < 0, 0.5 * np.exp(np.minimum(x, 0.0)), 1.0 - 0.5 * np.exp(-np.maximum(x, 0.0)))
    return scipy.special.expit(x)


def cdf_lower_torch(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "gaussian":
        return 0.5 * torch.erfc(-x * (1.0 / math.sqrt(2.0)))
    if name == "laplace":
        return torch.where(x < 0, 0.5 * torch.exp(torch.clamp(x, max=0.0)),
                           1.0 - 0.5 * torch.exp(-torch.clamp(x, min=0.0)))
    return torch.sigmoid(x)


def tail_radius(name: str, tail_mass: float) -> float:
    """``r`` such that ``P(|X| > r s) <= tail_mass`` for the unit-scale distribution."""
    if name == "gaussian":
        return float(-scipy.special.ndtri(tail_mass / 2))
    if name == "laplace":
        return float(math.log(1.0 / tail_mass))
    return float(math.log(2.0 / tail_mass))


def pmf_np(name: str, k: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Probability of integers ``k`` (float64)."""
    v = np.abs(k - center)
    return np.maximum(cdf_lower_np(name, (0.5 - v) / scale) - cdf_lower_np(name, (-0.5 - v) / scale), 0.0)


def likelihood_torch(name: str, y: torch.Tensor, scale: torch.Tensor, mean: torch.Tensor | None,
                     bound: float = 1e-9) -> torch.Tensor:
    """Differentiable probability of the (noisy or rounded) values ``y``."""
    v = torch.abs(y - mean) if mean is not None else torch.abs(y)
    p = cdf_lower_torch(name, (0.5 - v) / scale) - cdf_lower_torch(name, (-0.5 - v) / scale)
    return lower_bound(p, bound)


class _LowerBound(torch.autograd.Function):
    """``max(x, bound)`` that still passes gradients that push ``x`` up (as in compressai)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bound = bound
        return torch.clamp(x, min=bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        pass_through = (x >= ctx.bound) | (grad < 0)
        return grad * pass_through.to(grad.dtype), None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(x, bound)`` whose gradient still reaches an ``x`` below the bound when it would raise it.

    A plain ``clamp`` gives such an ``x`` no gradient at all, so a network output that has crossed
    the bound can drift anywhere below it, untrained.
    """
    return _LowerBound.apply(x, bound)
