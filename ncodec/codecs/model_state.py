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


def load_learned(model: nn.Module, tensors: dict[str, torch.Tensor], source: object) -> nn.Module:
    """``model`` with a weights file's tensors (constant buffers the file holds are ignored, and
    left at the architecture's values), in eval mode; a file that does not fit is refused."""
    from ncodec.errors import NcodecError

    missing, unexpected = model.load_state_dict(
        {k: v for k, v in tensors.items() if not is_constant_buffer(k)}, strict=False)
    missing = [k for k in missing if not is_constant_buffer(k)]
    if missing or unexpected:
        raise NcodecError(f"{source} does not fit {getattr(model, 'arch', 'the model')}: "
                          f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


def learned_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` without the constant buffers: what a weights file stores."""
    return {k: v for k, v in model.state_dict().items() if not is_constant_buffer(k)}
