"""Training images for learned image codecs: decoded once into memory, served as random crops.

Random crops of ``crop x crop`` with horizontal and vertical flips; images smaller than the
crop are upscaled (rarely needed: the training sets are 321 px and more on the short side).

``downscale`` shrinks every training image by that factor (Lanczos, antialiased) before any
crop. The training sets here are 4:2:0 JPEGs: at their own resolution the targets have chroma at
half resolution and JPEG's softened high frequencies, so a model trained on them learns to blur
colour and sharp edges. Shrinking by 2 puts luma and chroma detail back on the pixel grid
(the usual remedy for compressed training data).

A held-aside validation set is a fixed list of centre crops. Sampling uses a numpy
``Generator`` whose state is saved in checkpoints, so a resumed run draws the same crops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image as PILImage
from tqdm import tqdm

from ncodec.datasets.collection import EXTENSIONS
from ncodec.errors import NcodecError

KODAK_HINT = "kodak"


def image_files(dirs: Sequence[Path]) -> list[Path]:
    files = []
    for d in dirs:
        d = Path(d)
        if KODAK_HINT in str(d).lower():
            raise NcodecError(f"{d}: Kodak is the test set; never train on it")
        if not d.exists():
            raise NcodecError(f"training data {d} does not exist")
        cands = [d] if d.is_file() else sorted(p for p in d.rglob("*") if p.suffix.lower() in EXTENSIONS["image"])
        files.extend(cands)
    if not files:
        raise NcodecError("no training images found")
    return files


def load_images(files: Sequence[Path], min_side: int, progress: bool = True,
                downscale: float = 1.0) -> list[np.ndarray]:
    if not downscale >= 1.0:
        raise NcodecError(f"downscale must be >= 1 (got {downscale})")
    out = []
    for f in tqdm(files, desc="loading images", disable=not progress, unit="img"):
        with PILImage.open(f) as im:
            im = im.convert("RGB")
            if downscale > 1.0:
                im = im.resize((max(1, round(im.size[0] / downscale)), max(1, round(im.size[1] / downscale))),
                               PILImage.LANCZOS)
            if min(im.size) < min_side:
                s = min_side / min(im.size)
                im = im.resize((max(min_side, round(im.size[0] * s)), max(min_side, round(im.size[1] * s))),
                               PILImage.BICUBIC)
            out.append(np.asarray(im, dtype=np.uint8))
    return out


class CropSampler:
    def __init__(self, images: list[np.ndarray], crop: int, seed: int) -> None:
        self.images, self.crop = images, int(crop)
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        """``n`` random crops as uint8 ``(n, crop, crop, 3)``: a quarter of the bytes of floats to
        move to an accelerator; :func:`to_float` converts them where they are used."""
        out = np.empty((n, self.crop, self.crop, 3), dtype=np.uint8)
        for k in range(n):
            im = self.images[int(self.rng.integers(len(self.images)))]
            y = int(self.rng.integers(im.shape[0] - self.crop + 1))
            x = int(self.rng.integers(im.shape[1] - self.crop + 1))
            c = im[y:y + self.crop, x:x + self.crop]
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            if self.rng.random() < 0.5:
                c = c[::-1]
            out[k] = c
        return torch.from_numpy(out)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def to_float(crops: torch.Tensor) -> torch.Tensor:
    """uint8 ``(n, h, w, 3)`` -> float ``(n, 3, h, w)`` in ``[0, 1]`` (``x / 255`` is correctly
    rounded on every device, so the values do not depend on where this runs)."""
    return crops.permute(0, 3, 1, 2).float().div_(255.0)


def centre_crops(images: list[np.ndarray], size: int) -> torch.Tensor:
    crops = []
    for im in images:
        h, w = im.shape[:2]
        s = min(size, h, w) // 64 * 64
        y, x = (h - s) // 2, (w - s) // 2
        crops.append(torch.from_numpy(np.array(im[y:y + s, x:x + s])).permute(2, 0, 1).float() / 255.0)
    return crops
