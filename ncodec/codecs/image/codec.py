"""Learned image codecs as :class:`~ncodec.codecs.base.Codec`: container, weights, padding.

Weights come from ``ncodec/weights/<arch>.safetensors`` (shipped) or a ``weights=PATH``
given by the user: an ncodec safetensors file, or a CompressAI zoo checkpoint
(``bmshj2018-hyperprior``, ``mbt2018-mean``) mapped onto the matching architecture. The
container records the SHA-256 of the loaded weights; a stream made with other weights is
refused. Images of any size are padded (replicate) to the model's stride and cropped back;
greyscale images are coded as RGB and returned as greyscale (luma of the decoded RGB is not
used: the three decoded channels are averaged).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

import numpy as np

from ncodec.codecs.base import LearnedCodec, WeightsFile, parse_memory
from ncodec.container import Container
from ncodec.latents import Latents
from ncodec.errors import CorruptStreamError, NcodecError, OptionError
from ncodec.media import Image
from ncodec.weights import WEIGHTS_DIR

if TYPE_CHECKING:  # torch loads with the first model, not with this module
    from ncodec.codecs.image.base import LearnedImageModel

#: decode's peak memory per pixel of the padded image (bytes): measured 330 (Kodak, 768x512) to
#: 425 (hires, 1276x850) above the loaded model for the checkerboard, the largest; 1.5x margin
DECODE_BYTES_PER_PIXEL = 640


def load_model(arch: str, path: Path) -> LearnedImageModel:
    """Build ``arch`` from an ncodec weights file or a CompressAI checkpoint."""
    from ncodec.checkpoint import load_weights
    from ncodec.codecs.model_state import load_learned
    from ncodec.codecs.image.interop import is_compressai_state, load_compressai_checkpoint
    from ncodec.codecs.image.registry import build_model

    path = Path(path)
    if path.suffix in (".pth", ".pt", ".tar"):
        return load_compressai_checkpoint(arch, path)
    tensors, meta = load_weights(path)
    if is_compressai_state(tensors):
        return load_compressai_checkpoint(arch, path, tensors)
    cfg = meta.get("config", {})
    if cfg.get("arch", arch) != arch:
        raise NcodecError(f"{path} holds a {cfg.get('arch')} model, not {arch}")
    return load_learned(build_model(arch, **{k: v for k, v in cfg.items() if k != "arch"}), tensors, path)


class LearnedImageCodec(WeightsFile, LearnedCodec):
    kind = "image"
    quality_range = (0.0, 1.0)
    default_quality = 0.5
    quality_unit = "rate knob, 0 = fewest bits"
    version = 2  # 2: shapes/model config no longer in params (derived); 1 still decodes
    arch: ClassVar[str] = ""

    @classmethod
    def shipped_weights(cls) -> Path:
        """The weights file the package ships for this codec (may be absent)."""
        return WEIGHTS_DIR / f"{cls.arch}.safetensors"

    def __init__(self, weights: Optional[str | Path] = None, coder: str = "ans", refine_steps: int | str = 0,
                 max_memory: Optional[int | str] = None) -> None:
        if max_memory is not None:
            self.max_decode_memory = parse_memory(max_memory)
        self._weights_path = Path(weights) if weights else self.shipped_weights()
        self.coder = coder
        try:
            self.refine_steps = int(refine_steps)
        except ValueError:
            raise OptionError(f"refine_steps must be a whole number, got {refine_steps!r}") from None
        if not 0 <= self.refine_steps <= 100_000:
            raise OptionError(f"refine_steps must be in 0..100000, got {self.refine_steps}")

    def _load_model(self, path: Path) -> LearnedImageModel:
        return load_model(self.arch, path)

    def _model_hash(self, model: LearnedImageModel) -> str:
        from ncodec.checkpoint import weights_sha256

        return weights_sha256(model.state_dict())

    def settings(self) -> dict[str, Any]:
        return {"arch": self.arch, "weights": self.weights_setting(), "coder": self.coder,
                "refine_steps": self.refine_steps}

    def decode_memory(self, c: Container) -> int:
        h, w = c.media["shape"][:2]
        s = self.model.stride
        return -(-h // s) * s * -(-w // s) * s * DECODE_BYTES_PER_PIXEL

    # ------------------------------------------------------------------ the four steps
    def analyse(self, media: Image, quality: Optional[float] = None) -> Latents:
        import torch

        from ncodec.codecs.image.base import pad_to

        q = self.check_quality(quality)
        px = media.pixels if media.channels == 3 else np.repeat(media.pixels, 3, axis=2)
        x = torch.tensor(px).permute(2, 0, 1)[None].float().div_(255.0)
        x = pad_to(x, self.model.stride)
        if self.refine_steps:
            from ncodec.codecs.image.refinement import refine_latents

            lat = refine_latents(self.model, x, q, self.refine_steps)
        else:
            lat = self.model.latents(x, q)
        symbols = self.model.symbols(lat)
        shapes = {k: list(v.shape) for k, v in symbols.items()}
        if shapes != self.model.latent_shapes(x.shape[2], x.shape[3]):
            raise AssertionError(f"latent shapes {shapes} differ from the model's own rule")
        return self._latents(q, media.metadata(), symbols, self.model.dequantize(symbols),
                             {"coder": self.coder, "refine_steps": self.refine_steps})

    def to_chunks(self, latents: Latents) -> tuple[dict[str, bytes], dict[str, Any]]:
        symbols = {k: v for k, v in latents.tensors.items() if k != "y_hat"}
        coder = latents.side.get("coder", "ans")
        # Version 2 streams keep the header small: latent shapes follow from the image size,
        # the model config from the weights (bound by the header's weights hash); the coder
        # and refinement are only written when they differ from the defaults.
        params: dict[str, Any] = {}
        if coder != "ans":
            params["coder"] = coder
        if latents.side.get("refine_steps"):
            params["refine_steps"] = latents.side["refine_steps"]
        return {"latents": self.model.encode_symbols(symbols, coder)}, params

    def from_chunks(self, c: Container) -> Latents:
        from ncodec.entropy.coders import CODERS

        h, w, _ = c.media["shape"]
        stride = self.model.stride
        shapes = self.model.latent_shapes(-(-h // stride) * stride, -(-w // stride) * stride)
        if "shapes" in c.params and c.params["shapes"] != shapes:  # version 1 streams wrote them
            raise CorruptStreamError(f"latent shapes {c.params['shapes']} do not match a {w}x{h} image")
        coder = c.params.get("coder", "ans")
        if coder not in CODERS:
            raise CorruptStreamError(f"unknown entropy coder {coder!r}")
        if "latents" not in c.chunks:
            raise CorruptStreamError(f"{self.name} stream has no 'latents' chunk")
        symbols, y_hat = self.model.decode_symbols(c.chunks["latents"], shapes, coder)
        return self._latents(float(c.quality), dict(c.media), symbols, y_hat,
                             {"coder": coder, "refine_steps": c.params.get("refine_steps", 0)})

    def synthesise(self, latents: Latents) -> Image:
        import torch

        h, w, ch = latents.media["shape"]
        x_hat = self.model.synthesise(torch.from_numpy(latents.tensors["y_hat"]), latents.quality)
        px = torch.round(x_hat[0, :, :h, :w] * 255.0).to(torch.uint8).permute(1, 2, 0).numpy()
        if ch == 1:
            px = np.round(px.astype(np.float32).mean(axis=2, keepdims=True)).astype(np.uint8)
        return Image(np.ascontiguousarray(px))

    def _latents(self, q: float, media: dict, symbols: dict, y_hat, side: dict) -> Latents:
        tensors = {**{k: np.asarray(v, np.int64) for k, v in symbols.items()}, "y_hat": y_hat.numpy()}
        return Latents(self.name, float(q), media, tensors, side)


class FactorizedCodec(LearnedImageCodec):
    name = "factorized"
    arch = "factorized"
    description = "factorized prior (Ballé et al. 2018), variable rate"


class ScaleHyperpriorCodec(LearnedImageCodec):
    name = "hyperprior"
    arch = "scale-hyperprior"
    description = "scale hyperprior (Ballé et al. 2018), variable rate"


class MeanScaleCodec(LearnedImageCodec):
    name = "mean-scale"
    arch = "mean-scale-hyperprior"
    description = "mean-scale hyperprior (Minnen et al. 2018), variable rate"


class CheckerboardCodec(LearnedImageCodec):
    name = "checkerboard"
    arch = "checkerboard"
    description = "mean-scale hyperprior + checkerboard context (He et al. 2021), variable rate"




class WaveletImageCodec(LearnedImageCodec):
    """Latents made for learning on them: see :mod:`.wavelet`."""

    name = "wavelet-image"
    arch = "wavelet"
    description = "wavelet packets + shallow encoder + mean-scale hyperprior (after WaLLoC), for learning on latents"

    @classmethod
    def shipped_weights(cls) -> Path:
        return WEIGHTS_DIR / "wavelet-image.safetensors"
