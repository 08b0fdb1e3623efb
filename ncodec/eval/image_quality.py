"""Image quality metrics: PSNR on RGB and on luma, MS-SSIM, LPIPS.

* ``psnr_rgb`` -- over all three channels, peak 255.
* ``psnr_y`` -- on full-range luma ``Y' = Kr R + Kg G + Kb B`` (float, not rounded) with
  BT.601 (Kr, Kb = 0.299, 0.114) or BT.709 (0.2126, 0.0722) weights.
* ``ms_ssim`` -- pytorch-msssim's MS-SSIM (5 scales, 11x11 Gaussian window, data range 255)
  on RGB, averaged over channels; images need a short side of at least 161 pixels.
* ``LpipsMetric`` -- the ``lpips`` package's AlexNet LPIPS. Its linear layers ship with the
  package; the AlexNet backbone must be present locally (torchvision's
  ``alexnet-owt-7be5be79.pth`` under ``$TORCH_HOME/hub/checkpoints`` or a given path).
  Without it the metric is unavailable, with a message that says what is missing: it is
  never computed with a randomly initialised backbone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ncodec.eval.metrics import psnr_from_mse
from ncodec.media import Image

LUMA = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
MS_SSIM_MIN_SIDE = 161


def _px(x: Image | np.ndarray) -> np.ndarray:
    return x.pixels if isinstance(x, Image) else np.asarray(x)


def luma(rgb: np.ndarray, matrix: str = "bt601") -> np.ndarray:
    kr, kb = LUMA[matrix]
    x = rgb.astype(np.float64)
    if x.shape[-1] == 1:
        return x[..., 0]
    return kr * x[..., 0] + (1 - kr - kb) * x[..., 1] + kb * x[..., 2]


def psnr_rgb(ref, dist) -> float:
    a, b = _px(ref).astype(np.float64), _px(dist).astype(np.float64)
    return psnr_from_mse(float(np.mean((a - b) ** 2)))


def psnr_y(ref, dist, matrix: str = "bt601") -> float:
    a, b = luma(_px(ref), matrix), luma(_px(dist), matrix)
    return psnr_from_mse(float(np.mean((a - b) ** 2)))


def ms_ssim(ref, dist) -> float:
    """MS-SSIM in [0, 1] (1 = identical)."""
    from pytorch_msssim import ms_ssim as _ms_ssim

    a, b = _px(ref), _px(dist)
    if min(a.shape[:2]) < MS_SSIM_MIN_SIDE:
        raise ValueError(f"MS-SSIM needs images of at least {MS_SSIM_MIN_SIDE} px on the short side, "
                         f"got {a.shape[1]}x{a.shape[0]}")
    ta = torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]
    tb = torch.from_numpy(b.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        return float(_ms_ssim(ta.double(), tb.double(), data_range=255.0, size_average=True))


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, ``-10 log10(1 - MS-SSIM)`` (as CompressAI plots it)."""
    return float("inf") if value >= 1 else -10.0 * float(np.log10(1.0 - value))


class LpipsUnavailable(RuntimeError):
    """The LPIPS backbone weights are not on this machine."""


def find_alexnet_weights(path: Optional[str | Path] = None) -> Path:
    candidates = []
    if path is not None:
        candidates.append(Path(path))
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    candidates.append(torch_home / "hub" / "checkpoints" / ALEXNET_FILE)
    for c in candidates:
        if c.is_file():
            return c
    raise LpipsUnavailable(
        "LPIPS skipped: its AlexNet backbone weights are not on this machine (looked for "
        + ", ".join(str(c) for c in candidates)
        + "). Copy torchvision's " + ALEXNET_FILE + " there or pass --lpips-weights PATH.")


class LpipsMetric:
    """AlexNet LPIPS (v0.1) from local weights only; lower is better."""

    def __init__(self, backbone_path: Optional[str | Path] = None) -> None:
        import lpips
        import torchvision

        weights = find_alexnet_weights(backbone_path)
        model = lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True, verbose=False)
        linear = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
        model.load_state_dict(torch.load(linear, map_location="cpu", weights_only=True), strict=False)
        alexnet = torchvision.models.alexnet()
        alexnet.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        loaded = 0
        for sl in (model.net.slice1, model.net.slice2, model.net.slice3, model.net.slice4, model.net.slice5):
            for name, child in sl.named_children():
                child.load_state_dict(alexnet.features[int(name)].state_dict())
                loaded += sum(1 for _ in child.parameters())
        if loaded != sum(1 for _ in alexnet.features.parameters()):
            raise LpipsUnavailable("LPIPS backbone weights did not map onto the lpips network")
        self.model = model.eval()

    def __call__(self, ref, dist) -> float:
        def t(x):
            return torch.from_numpy(_px(x).astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            return float(self.model(t(ref), t(dist)).item())
