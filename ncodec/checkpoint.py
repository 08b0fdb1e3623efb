"""Training checkpoints and weight files without pickle.

A checkpoint is one ``.safetensors`` file: model tensors under ``model.``, optimizer state
tensors under ``optim.<name>.<param index>.<key>``, torch's RNG state under ``rng.torch``, and
everything else (step, optimizer hyper-parameters and scalar state, numpy RNG state, run
config) as JSON in the safetensors metadata. Loading it executes no code and allocates only
what the header declares (safetensors checks sizes against the file).

Files are written to a temporary name and renamed, so a kill never leaves a torn checkpoint.
:func:`weights_sha256` hashes tensors in a canonical order, independent of file layout.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ncodec.errors import NcodecError

MAX_CHECKPOINT_BYTES = 4 << 30


def _atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_weights(state: dict[str, torch.Tensor], path: Path, metadata: Optional[dict[str, Any]] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
    """A plain weights file (what ships in the package), optionally cast (e.g. fp16)."""
    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v) for k, v in state.items()}
    _atomic_save(tensors, {"ncodec": json.dumps(metadata or {}, sort_keys=True)}, path)


def load_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (as float32 where floating) and the ncodec metadata of a weights file."""
    path = Path(path)
    if not path.is_file():
        raise NcodecError(f"weights file {path} does not exist")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise NcodecError(f"weights file {path} is larger than {MAX_CHECKPOINT_BYTES} bytes")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise NcodecError(f"{path} is not a valid safetensors file: {exc}") from None
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    try:
        info = json.loads(meta.get("ncodec", "{}"))
    except json.JSONDecodeError:
        raise NcodecError(f"{path} has malformed ncodec metadata") from None
    return tensors, info


def weights_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over (name, dtype, shape, bytes) of every tensor, sorted by name."""
    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k].detach().contiguous().cpu()
        h.update(k.encode())
        h.update(str(v.dtype).encode())
        h.update(str(tuple(v.shape)).encode())
        h.update(v.numpy().tobytes() if v.dtype != torch.bfloat16 else v.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim_meta: dict[str, Any] = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, st in sd["state"].items():
            for key, val in st.items():
                if isinstance(val, torch.Tensor):
                    tensors[f"optim.{name}.{idx}.{key}"] = val
                else:
                    scalars.setdefault(str(idx), {})[key] = val
        optim_meta[name] = {"param_groups": sd["param_groups"], "scalars": scalars}
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"state": json.dumps(state, sort_keys=True), "optim": json.dumps(optim_meta, sort_keys=True)}
    _atomic_save(tensors, meta, path)


def load_checkpoint(path: Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    optim_meta = json.loads(meta["optim"])
    for name, opt in optimizers.items():
        om = optim_meta[name]
        st: dict[int, dict[str, Any]] = {}
        prefix = f"optim.{name}."
        for k, v in tensors.items():
            if k.startswith(prefix):
                idx, key = k[len(prefix):].split(".", 1)
                st.setdefault(int(idx), {})[key] = v
        for idx, sc in om["scalars"].items():
            st.setdefault(int(idx), {}).update(sc)
        opt.load_state_dict({"state": st, "param_groups": om["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return json.loads(meta["state"])
