"""Which tensors of a learned model a weights file stores (shared by every learned family)."""

from __future__ import annotations

import torch
from torch import nn

#: buffers the architecture fixes (GDN's pedestal, LowerBound constants, the factorized prior's
#: quantile targets, compressai's derived CDF tables): never stored in weights files, and ignored
#: when a file holds them. Stored in fp16 they would be wrong: 1e-9 and 1.5e-11 flush to zero.
_CONSTANT_SUFFIXES = (".pedestal", ".bound", "bottleneck.target", "._offset", "._quantized_cdf", "._cdf_length",
                      # the residual VQ's running averages: training state (checkpoints keep them)
                      "rvq.ema_count", "rvq.ema_sum")


def is_constant_buffer(name: str) -> bool:
    """Whether ``name`` is a tensor the architecture fixes rather than training learns."""
    return name.endswith(_CONSTANT_SUFFIXES)


def learned_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` without the constant buffers: what a weights file stores."""
    return {k: v for k, v in model.state_dict().items() if not is_constant_buffer(k)}
