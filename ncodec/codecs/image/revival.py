"""Reviving collapsed latent channels of a trained variable-rate image model.

Variable-rate training can let a channel's gain collapse: with ``log g_top(c)`` far below the
other channels', ``round(g_a(x)_c g(q))`` is zero at every quality, so the channel costs no bits
and carries nothing, and the synthesis learns to ignore it -- a stable state that gradient
descent does not leave. The model then has fewer usable latent channels than ``M``, which caps
the top of its RD curve (``benchmarks/latent_channels.py`` counts them).

A channel is *dead* when its top-level log-gain is more than ``margin`` below the median over
channels. :func:`revive_dead_channels` resets, for every dead channel ``c``:

* its gains and inverse gains at every level to the median of the live channels (it is then
  quantized as finely as they are);
* the synthesis' input weights from ``c`` to zero, so the reconstruction does not start from
  noise; the gradient grows them once ``c`` carries information;
* its scale prediction to a copy of the median live channel's, and its mean prediction to zero,
  so its prior starts from a typical width instead of the collapsed one.

Training then continues from these weights (``ncodec train image --init W --revive-dead``).
Measured on the shipped checkerboard (BENCHMARKS.md, session 8): the 22 revived channels were
dead again 4,000 steps later -- the analysis weights into them shrink under the rate term before
the synthesis learns to use them. It stays an option, with that measured effect stated in
README and ``--help``, for experiments on collapse; it is not part of any shipped recipe.
"""

from __future__ import annotations

import torch

from ncodec.errors import NcodecError


def dead_channels(model: torch.nn.Module, margin: float = 1.0) -> list[int]:
    """Channels whose top-quality log-gain is more than ``margin`` below the median channel's."""
    top = model.gain.log_gain.detach()[-1]
    return [int(c) for c in torch.nonzero(top < top.median() - margin).flatten()]


def revive_dead_channels(model: torch.nn.Module, margin: float = 1.0) -> list[int]:
    """Reset the dead channels of a checkerboard model in place (see the module docstring)."""
    if getattr(model, "arch", None) != "checkerboard":
        raise NcodecError(f"--revive-dead supports the checkerboard model, not {getattr(model, 'arch', model)}")
    dead = dead_channels(model, margin)
    if not dead:
        return []
    top = model.gain.log_gain.detach()[-1]
    M = top.numel()
    live = sorted(set(range(M)) - set(dead))
    order = sorted(live, key=lambda c: float(top[c]))
    src = order[len(order) // 2]  # the live channel with the median top-level gain
    idx = torch.tensor(dead)
    with torch.no_grad():
        for table in (model.gain.log_gain, model.gain.log_inv_gain):
            table[:, idx] = table[:, live].median(dim=1, keepdim=True).values
        model.synthesis_input.weight[idx] = 0.0  # ConvTranspose2d weight: (in = M, out, k, k)
        head = model.parameter_head  # outputs (scales, means), M channels each
        head.weight[idx] = head.weight[src].clone()
        head.bias[idx] = head.bias[src].clone()
        head.weight[idx + M] = 0.0
        head.bias[idx + M] = 0.0
    return dead
