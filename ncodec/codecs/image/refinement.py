"""Encoder-side latent refinement: gradient steps on one image's RD loss, decoder fixed.

An under-trained (or simply amortised) analysis transform does not find the latents that
minimise ``L = lambda(q) 255^2 MSE(g_s(y_hat), x) + bits(y_hat, z_hat) / pixels`` for a given
image; the decoder, entropy model and bitstream format do not care how the latents were
found. Starting from ``y = g_a(x)``, ``z = h_a(y)``, Adam updates ``y`` and ``z`` directly
(Campos et al. 2019; Yang et al. 2020 anneal the rounding more gently):

* first half of the steps: the rate sees ``y + u`` (uniform noise, the training proxy) and the
  synthesis the straight-through rounded ``y``;
* second half: both see straight-through rounded values -- the loss the bitstream will have.

After every step the exact loss (rounded latents) is evaluated and the best latents so far
are kept, so refinement never returns latents worse than ``g_a``'s in that loss. Only
encoding gets slower (``steps`` forward + backward passes of the synthesis and hyper-synthesis);
decoding is unchanged and streams stay compatible.
"""

from __future__ import annotations

import math

import torch

from ncodec.codecs.image.loss import rate_distortion


def refine_latents(model, x: torch.Tensor, q: float, steps: int, lr: float = 0.02) -> dict[str, torch.Tensor]:
    """Refined latents for ``model.compress_latents`` (see the module docstring)."""
    with torch.no_grad():
        start = model.latents(x, q)
    if steps <= 0:
        return start
    lat = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    qv = model.quality_tensor(q, 1)
    lmbda = float(model.gain.lmbda(qv))
    pixels = x.shape[-2] * x.shape[-1]
    opt = torch.optim.Adam(list(lat.values()), lr=lr)

    def loss(mode: str) -> torch.Tensor:
        x_hat, bits = model.rd_terms(lat, qv, mode)
        return rate_distortion(torch.mean((x_hat - x) ** 2), bits / pixels, lmbda)

    best_val, best = math.inf, {k: v.detach().clone() for k, v in lat.items()}
    was_training = model.training
    model.eval()
    try:
        for i in range(steps + 1):
            with torch.no_grad():
                exact = float(loss("ste"))
            if exact < best_val:
                best_val, best = exact, {k: v.detach().clone() for k, v in lat.items()}
            if i == steps:
                break
            opt.zero_grad(set_to_none=True)
            loss("noise" if i < steps // 2 else "ste").backward()
            opt.step()
    finally:
        model.train(was_training)
    return best
