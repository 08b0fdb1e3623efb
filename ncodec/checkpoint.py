"""Training checkpoints and weight files without pickle.

A checkpoint is one ``.safetensors`` file: model tensors under ``model.``, optimizer state
tensors under ``optim.<name>.<param index>.<key>``, torch's RNG state under ``rng.torch`` (and
the CUDA generator's under ``rng.cuda`` when the model is on a GPU), and everything else (step,
optimizer hyper-parameters and scalar state, numpy RNG state, run config) as JSON in the
safetensors metadata. Loading it executes no code and allocates only what the header declares
(safetensors checks sizes against the file).

Files are written to a temporary name and renamed, so a kill never leaves a torn checkpoint.
:func:`weights_sha256` hashes tensors in a canonical order, independent of file layout.

A weights file may take some tensors from a **base** file in the same directory (models
fine-tuned from another one with parts frozen ship only what differs): its metadata then holds
``"base": {"file": NAME, "sha256": HEX, "tensors": [names]}``. The base is found by bare file
name next to the file, must match the SHA-256 of its bytes, and may not itself have a base.
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

from ncodec.atomic import publish
from ncodec.errors import NcodecError

MAX_CHECKPOINT_BYTES = 4 << 30


def _atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_weights(state: dict[str, torch.Tensor], path: Path, metadata: Optional[dict[str, Any]] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
    """A plain weights file (what ships in the package), optionally cast (e.g. fp16)."""
    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v) for k, v in state.items()}
    _atomic_save(tensors, {"ncodec": json.dumps(metadata or {}, sort_keys=True)}, path)


def save_weights_on_base(state: dict[str, torch.Tensor], path: Path, base: Path,
                         metadata: Optional[dict[str, Any]] = None, dtype: Optional[torch.dtype] = None) -> list[str]:
    """Like :func:`save_weights`, leaving out the tensors equal (after the cast) to ``base``'s.

    ``base`` must sit in the same directory as ``path`` when the file is loaded. Returns the
    names taken from the base.
    """
    base = Path(base)
    base_tensors, base_meta = _read_safetensors(base)
    if "base" in base_meta:
        raise NcodecError(f"{base} itself builds on a base file; chain at most one level")
    cast = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v) for k, v in state.items()}
    shared = sorted(k for k, v in cast.items() if k in base_tensors and base_tensors[k].dtype == v.dtype
                    and base_tensors[k].shape == v.shape and torch.equal(base_tensors[k], v.cpu()))
    info = dict(metadata or {}, base={"file": base.name, "sha256": _file_sha256(base), "tensors": shared})
    _atomic_save({k: v for k, v in cast.items() if k not in shared}, {"ncodec": json.dumps(info, sort_keys=True)},
                 path)
    return shared


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Stored tensors (dtype as stored) and ncodec metadata, with size and format checks."""
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
    return tensors, _ncodec_metadata(path, meta)


def _parse_safetensors(path: Path, data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """:func:`_read_safetensors` on bytes already read (``path`` names them in messages)."""
    from safetensors.torch import load as load_bytes

    try:
        tensors = load_bytes(data)
        meta = json.loads(data[8:8 + int.from_bytes(data[:8], "little")]).get("__metadata__") or {}
    except Exception as exc:
        raise NcodecError(f"{path} is not a valid safetensors file: {exc}") from None
    return tensors, _ncodec_metadata(path, meta)


def _ncodec_metadata(path: Path, meta: dict[str, str]) -> dict[str, Any]:
    try:
        info = json.loads(meta.get("ncodec", "{}"))
    except json.JSONDecodeError:
        raise NcodecError(f"{path} has malformed ncodec metadata") from None
    if not isinstance(info, dict):
        raise NcodecError(f"{path} has malformed ncodec metadata")
    return info


def _merge_base(path: Path, tensors: dict[str, torch.Tensor], ref: Any) -> None:
    """Add the tensors a weights file takes from its base (see the module docstring)."""
    ok = (isinstance(ref, dict) and isinstance(ref.get("file"), str) and isinstance(ref.get("sha256"), str)
          and isinstance(ref.get("tensors"), list) and all(isinstance(t, str) for t in ref["tensors"]))
    name = ref.get("file", "") if ok else ""
    if not ok or not name or name != Path(name).name or name in (".", ".."):
        raise NcodecError(f"{path} names its base file badly (a bare file name next to it is required)")
    base = path.parent / name
    if not base.is_file():
        raise NcodecError(f"{path} builds on {name}, which is missing from {path.parent}")
    if base.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise NcodecError(f"weights file {base} is larger than {MAX_CHECKPOINT_BYTES} bytes")
    data = base.read_bytes()  # hashed and parsed from the same bytes: one read, no swap in between
    if hashlib.sha256(data).hexdigest() != ref["sha256"]:
        raise NcodecError(f"{path} builds on another version of {name} (SHA-256 differs)")
    base_tensors, base_info = _parse_safetensors(base, data)
    if "base" in base_info:
        raise NcodecError(f"{base} itself builds on a base file; chain at most one level")
    missing = [t for t in ref["tensors"] if t not in base_tensors]
    clash = [t for t in ref["tensors"] if t in tensors]
    if missing or clash:
        raise NcodecError(f"{path} and its base {name} disagree about tensors {(missing + clash)[:3]}")
    tensors.update({t: base_tensors[t] for t in ref["tensors"]})


def load_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (as float32 where floating) and the ncodec metadata of a weights file
    (with the tensors it takes from its base file, if it names one)."""
    path = Path(path)
    tensors, info = _read_safetensors(path)
    if "base" in info:
        _merge_base(path, tensors, info["base"])
    return {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}, info


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
    device = _model_device(model)
    if device.type == "cuda":  # training noise on an accelerator comes from its own generator
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
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
    device = _model_device(model)
    if device.type == "cuda" and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    return json.loads(meta["state"])


def _model_device(model: torch.nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))
