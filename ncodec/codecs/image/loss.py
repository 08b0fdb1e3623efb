"""The rate-distortion objective that image training and latent refinement both minimise.

``L = lambda 255^2 MSE + bpp``: MSE on [0, 1] pixels scaled to 8-bit units, so ``lambda`` has
CompressAI's meaning (e.g. 0.0130 near 0.5 bpp on Kodak), plus the rate in bits per pixel.
"""

from __future__ import annotations

import torch


def rate_distortion(mse: torch.Tensor, bpp: torch.Tensor, lmbda: torch.Tensor | float) -> torch.Tensor:
    """``lambda 255^2 mse + bpp`` (elementwise)."""
    return lmbda * 255.0 ** 2 * mse + bpp


def rd_loss(out: dict, x: torch.Tensor, lmbda: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-batch mean of :func:`rate_distortion` for a model's training output; also returns
    the per-image bpp and MSE (detached)."""
    num_pixels = x.shape[-2] * x.shape[-1]
    bpp = sum(-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values()) / num_pixels
    mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
    return rate_distortion(mse, bpp, lmbda).mean(), bpp.detach(), mse.detach()
