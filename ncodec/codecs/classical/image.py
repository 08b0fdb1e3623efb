"""Classical image codecs through Pillow: JPEG, WebP, JPEG 2000, AVIF and PNG.

Each codec stores the format's own file as one chunk named ``bitstream`` (a ``.jpg``,
``.webp``, ``.j2k`` codestream, ``.avif`` or ``.png``); ``params`` records the encoder
settings. The settings are the ones an expert would pick for a fair rate-distortion
comparison (see each class). All quality knobs grow with quality: a larger value never
means fewer bits (PNG's knob is the zlib effort instead).

Grey (``H x W x 1``) images are coded as grey where the format has a grey mode (JPEG,
JPEG 2000, AVIF 4:0:0, PNG). WebP has none: grey is coded as RGB and the decoder returns
the luma of the decoded RGB.
"""

from __future__ import annotations

import io
import math
from typing import Any, ClassVar

import numpy as np

from ncodec.codecs.base import Codec
from ncodec.container import Container
from ncodec.errors import CorruptStreamError, MediaError
from ncodec.media import MAX_PIXELS, Image

CHUNK = "bitstream"


def _pil():
    from PIL import Image as PILImage

    # Pillow's decompression-bomb guard at ncodec's own limit (headers are checked against it).
    PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS
    return PILImage


def _lib_version(feature: str) -> str:
    try:
        from PIL import features

        return str(features.version(feature))
    except Exception:  # pragma: no cover - informative only
        return "unknown"


class _PillowImageCodec(Codec):
    """Shared encode/decode plumbing; subclasses give the Pillow format and save options."""

    kind = "image"
    pil_format: ClassVar[str]
    #: File extension of the payload when saved on its own.
    extension: ClassVar[str]
    #: Quality must be a whole number (Pillow's knob is an integer).
    integer_quality = True
    #: Whether the format stores 8-bit grey natively.
    native_grey: ClassVar[bool] = True

    # ------------------------------------------------------------------ subclass hooks
    def _save_options(self, quality: float, image: Image) -> dict[str, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------------ codec
    def _encode(self, media: Image, quality: float) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any]]:
        PILImage = _pil()
        px = media.pixels
        grey = px.shape[2] == 1
        if grey and self.native_grey:
            im = PILImage.fromarray(np.ascontiguousarray(px[:, :, 0]), "L")
        elif grey:
            im = PILImage.fromarray(np.ascontiguousarray(np.repeat(px, 3, axis=2)), "RGB")
        else:
            im = PILImage.fromarray(np.ascontiguousarray(px), "RGB")
        opts = self._save_options(quality, media)
        buf = io.BytesIO()
        try:
            im.save(buf, format=self.pil_format, **opts)
        except (OSError, ValueError, TypeError) as exc:
            raise MediaError(f"{self.name} cannot encode this {media.width}x{media.height} image: {exc}") from None
        params = {"format": self.pil_format.lower(), "coded_mode": im.mode,
                  **{k: v for k, v in opts.items() if isinstance(v, (int, float, str, bool, list))}}
        return {CHUNK: buf.getvalue()}, params, media.metadata()

    def _decode(self, container: Container) -> Image:
        PILImage = _pil()
        data = container.chunks.get(CHUNK)
        if data is None:
            raise CorruptStreamError(f"{self.name} stream has no {CHUNK!r} chunk")
        h, w, channels = container.media["shape"]
        try:
            im = PILImage.open(io.BytesIO(data), formats=[self.pil_format])
        except Exception as exc:
            raise CorruptStreamError(f"{self.name} payload is not a valid {self.pil_format} file: {exc}") from None
        with im:
            if im.size != (w, h):
                raise CorruptStreamError(f"{self.name} payload is {im.size[0]}x{im.size[1]}, header says {w}x{h}")
            im.load()
            if channels == 1:
                arr = np.asarray(im.convert("L") if im.mode != "L" else im, dtype=np.uint8)[:, :, None]
            else:
                arr = np.asarray(im.convert("RGB") if im.mode != "RGB" else im, dtype=np.uint8)
        return Image(np.ascontiguousarray(arr), container.media.get("color_space", "srgb"))


def _flag(value: bool | str, name: str) -> bool:
    """A boolean codec option, also from CLI text (true/false, 1/0, yes/no)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise MediaError(f"option {name} must be true or false, got {value!r}")


class JpegCodec(_PillowImageCodec):
    """Baseline JPEG (libjpeg-turbo through Pillow)."""

    name = "jpeg"
    pil_format = "JPEG"
    extension = ".jpg"
    quality_range = (1, 100)
    default_quality = 75
    quality_unit = "libjpeg quality 1..100 (IJG scaled tables; larger is better)"
    description = ("JPEG (libjpeg-turbo): IJG quality 1..100, 4:2:0 chroma sub-sampling, "
                   "optimized Huffman tables (option optimize=false for Pillow's default tables), "
                   "baseline (sequential)")

    def __init__(self, optimize: bool | str = True) -> None:
        self.optimize = _flag(optimize, "optimize")

    def settings(self) -> dict[str, Any]:
        return {"library": f"libjpeg-turbo {_lib_version('libjpeg_turbo')}", "subsampling": "4:2:0",
                "optimize": self.optimize, "progressive": False,
                "color_transform": "JFIF YCbCr (BT.601 full range)"}

    def _save_options(self, quality: float, image: Image) -> dict[str, Any]:
        return {"quality": int(quality), "subsampling": "4:2:0", "optimize": self.optimize}


class WebpCodec(_PillowImageCodec):
    """Lossy WebP (libwebp through Pillow)."""

    name = "webp"
    pil_format = "WEBP"
    extension = ".webp"
    native_grey = False
    quality_range = (0, 100)
    default_quality = 75
    quality_unit = "libwebp quality 0..100 (larger is better)"
    description = "WebP lossy (libwebp VP8 intra): quality 0..100, method 6 (slowest, best), 4:2:0"

    def settings(self) -> dict[str, Any]:
        return {"library": f"libwebp {_lib_version('webp')}", "lossless": False, "method": 6,
                "subsampling": "4:2:0 (fixed by the format)"}

    def _save_options(self, quality: float, image: Image) -> dict[str, Any]:
        return {"quality": int(quality), "method": 6, "lossless": False}


class Jpeg2000Codec(_PillowImageCodec):
    """JPEG 2000 (OpenJPEG through Pillow), lossy 9/7 wavelet, rate-targeted.

    The knob is the target rate in bits per pixel, passed to OpenJPEG as the compression
    ratio ``24 / bpp`` of one quality layer (OpenJPEG's ``-r``), the way JPEG 2000 is
    normally driven. A PSNR-targeted layer (``quality_mode='dB'``) gives every image the
    same PSNR, which makes per-quality averages over a dataset (the CompressAI convention
    used by ``ncodec bench``) much worse than the codec is: measured on Kodak, PSNR BD-rate
    vs JPEG -29.5 % with dB targets against -43 % with rate targets over the same range.
    """

    name = "jpeg2000"
    pil_format = "JPEG2000"
    extension = ".j2k"
    integer_quality = False
    quality_is_rate = True
    quality_range = (0.02, 12.0)
    default_quality = 1.0
    quality_unit = "target bits per pixel (OpenJPEG rate = 24 / bpp; larger is better)"
    description = ("JPEG 2000 (OpenJPEG): irreversible 9/7 wavelet, multi-component (ICT) colour "
                   "transform, one quality layer at a target rate in bpp, raw .j2k codestream")

    def settings(self) -> dict[str, Any]:
        return {"library": f"OpenJPEG {_lib_version('jpg_2000')}", "irreversible": True,
                "mct": "1 for RGB (ICT), 0 for grey", "quality_mode": "rates (24/bpp)", "layers": 1,
                "codestream": "j2k (no jp2 box wrapper)",
                "num_resolutions": "min(6, floor(log2(min(H, W))) + 1)", "progression": "LRCP",
                "codeblock": "64x64"}

    def _save_options(self, quality: float, image: Image) -> dict[str, Any]:
        levels = max(1, min(6, int(math.floor(math.log2(min(image.height, image.width)))) + 1))
        ratio = 8.0 * image.channels / float(quality)
        return {"quality_mode": "rates", "quality_layers": [ratio], "irreversible": True,
                "mct": 1 if image.channels == 3 else 0, "no_jp2": True, "num_resolutions": levels}


def _avif_codec() -> str:
    try:
        from PIL import _avif

        return "aom" if _avif.encoder_codec_available("aom") else "auto"
    except Exception:  # pragma: no cover - Pillow without AVIF
        return "auto"


class AvifCodec(_PillowImageCodec):
    """AVIF (libavif with libaom through Pillow)."""

    name = "avif"
    pil_format = "AVIF"
    extension = ".avif"
    quality_range = (0, 100)
    default_quality = 60
    quality_unit = "libavif quality 0..100 (maps linearly to the AV1 quantizer; larger is better)"
    description = ("AVIF (libavif + libaom): quality 0..100, 4:2:0 (4:0:0 for grey), speed 6 "
                   "(libavif's default trade-off), full-range BT.601 YUV, 8-bit")
    speed: ClassVar[int] = 6

    def __init__(self, speed: int | str = 6) -> None:
        try:
            self.speed = int(speed)
        except ValueError:
            raise MediaError(f"avif speed must be an integer 0..10, got {speed!r}") from None
        if not 0 <= self.speed <= 10:
            raise MediaError(f"avif speed must be 0..10, got {self.speed}")

    def settings(self) -> dict[str, Any]:
        return {"library": f"libavif {_lib_version('avif')}", "codec": _avif_codec(), "speed": self.speed,
                "subsampling": "4:2:0 (4:0:0 for grey)", "range": "full", "bit_depth": 8}

    def _save_options(self, quality: float, image: Image) -> dict[str, Any]:
        return {"quality": int(quality), "codec": _avif_codec(), "speed": self.speed,
                "subsampling": "4:2:0" if image.channels == 3 else "4:0:0", "range": "full"}


class PngCodec(_PillowImageCodec):
    """Lossless PNG (zlib through Pillow)."""

    name = "png"
    pil_format = "PNG"
    extension = ".png"
    lossless = True
    quality_range = (0, 9)
    default_quality = 9
    quality_unit = "zlib compression level 0..9 (lossless at every level; 9 = smallest file)"
    description = "PNG (lossless): zlib level 0..9 (default 9), adaptive filters; the pixels are exact"

    def settings(self) -> dict[str, Any]:
        return {"library": f"zlib {_lib_version('zlib')}", "lossless": True, "optimize": False,
                "filters": "adaptive (Pillow default)"}

    def _save_options(self, quality: float, image: Image) -> dict[str, Any]:
        return {"compress_level": int(quality)}


