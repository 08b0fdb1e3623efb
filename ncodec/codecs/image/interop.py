"""Load CompressAI checkpoints into ncodec architectures (no code execution).

Supported: ``bmshj2018-factorized`` (-> ``factorized``), ``bmshj2018-hyperprior`` (-> ``scale-hyperprior``) and ``mbt2018-mean``
(-> ``mean-scale-hyperprior``). The transforms share compressai's parameter names; the
``entropy_bottleneck.*`` parameters become ``z_prior.bottleneck.*``; compressai's derived
coding buffers (``_offset``, ``_quantized_cdf``, ``_cdf_length``, ``scale_table``) are dropped
because ncodec derives its own integer tables. A fixed-rate CompressAI model becomes a
single-rate ncodec model (unit gains), so every quality gives the same rate.

``torch.load`` runs with ``weights_only=True``: a checkpoint cannot execute code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from ncodec.codecs.image.base import LearnedImageModel
from ncodec.codecs.model_state import is_constant_buffer
from ncodec.codecs.image.registry import build_model
from ncodec.errors import NcodecError

_DERIVED = ("_offset", "_quantized_cdf", "_cdf_length", "scale_table")


def is_compressai_state(state: dict) -> bool:
    return any(k.startswith("entropy_bottleneck.") for k in state) and any(k.startswith("g_a.") for k in state)


def _read(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NcodecError(f"cannot read {path} as a weights-only checkpoint: {exc}") from None
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise NcodecError(f"{path} is not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def map_compressai_state(state: dict, prior: str = "z_prior") -> dict:
    out = {}
    for k, v in state.items():
        if k.startswith("gaussian_conditional.") or k.rsplit(".", 1)[-1] in _DERIVED:
            continue
        if k.startswith("entropy_bottleneck."):
            k = prior + ".bottleneck." + k[len("entropy_bottleneck."):]
        out[k] = v
    return out


def load_compressai_checkpoint(arch: str, path: Path, state: Optional[dict] = None) -> LearnedImageModel:
    state = _read(Path(path)) if state is None else state
    if not is_compressai_state(state):
        raise NcodecError(f"{path} is not a CompressAI image-model checkpoint")
    if arch not in ("factorized", "scale-hyperprior", "mean-scale-hyperprior"):
        raise NcodecError(f"CompressAI checkpoints map onto factorized, scale-hyperprior or "
                          f"mean-scale-hyperprior, not {arch}")
    n, m = int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0])
    model = build_model(arch, N=n, M=m, variable_rate=False)
    mapped = map_compressai_state(state, "y_prior" if arch == "factorized" else "z_prior")
    with torch.no_grad():
        model.gain.log_gain.zero_()
        model.gain.log_inv_gain.zero_()
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.startswith("gain.") and not is_constant_buffer(k)]
    if missing or unexpected:
        raise NcodecError(f"{path} does not fit {arch} (N={n}, M={m}): missing {missing[:4]}, "
                          f"unexpected {unexpected[:4]}")
    return model.eval()
