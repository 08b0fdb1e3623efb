"""Classical image codecs through Pillow, configured as their expert users do.

* ``jpeg`` -- libjpeg(-turbo), quality 1..100, 4:2:0 chroma subsampling, optimized Huffman
  tables, baseline (not progressive).
* ``webp`` -- libwebp lossy, quality 0..100, ``method=6`` (slowest, best compression).
* ``jpeg2000`` -- OpenJPEG, lossy with the irreversible 9/7 wavelet and the multi-component
  colour transform; the knob is the target PSNR in dB of the single quality layer
  (Pillow's default is the reversible 5/3 path, which needs about twice the bits at equal
  quality on Kodak, so it is not used).
* ``avif`` -- libavif with libaom (AV1), quality 0..100 mapped by libavif straight to its
  quantizer (q50 ~ 0.35 bpp, q70 ~ 0.7 bpp on kodim23), 4:2:0, ``speed=6`` (libavif's default).
* ``png`` -- lossless, ``compress_level=9``.

The payload is the codec's own file, byte for byte.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image as PILImage

from ncodec.codecs.base import Codec
from ncodec.container import Container
from ncodec.errors import CorruptStreamError
from ncodec.media import MAX_PIXELS, Image

PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS  # decompression-bomb guard at ncodec's own limit


def _to_pil(image: Image) -> PILImage.Image:
    px = image.pixels
    return PILImage.fromarray(px[:, :, 0], "L") if image.channels == 1 else PILImage.fromarray(px, "RGB")


class PillowImageCodec(Codec):
    kind = "image"
    pil_format: str = ""
    extension: str = ""

    def save_options(self, quality: float, grey: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _encode(self, media: Image, quality: float):
        buf = io.BytesIO()
        _to_pil(media).save(buf, self.pil_format, **self.save_options(quality, media.channels == 1))
        return {"image": buf.getvalue()}, {"format": self.pil_format}, media.metadata()

    def _decode(self, c: Container) -> Image:
        h, w, ch = c.media["shape"]
        data = c.chunks.get("image")
        if data is None:
            raise CorruptStreamError(f"{self.name} stream has no 'image' chunk")
        with PILImage.open(io.BytesIO(data), formats=[self.pil_format]) as im:
            if im.size != (w, h):
                raise CorruptStreamError(f"payload is {im.size[0]}x{im.size[1]}, header says {w}x{h}")
            im = im.convert("L" if ch == 1 else "RGB")
            px = np.asarray(im, dtype=np.uint8)
        return Image(px.reshape(h, w, ch).copy())


class JpegCodec(PillowImageCodec):
    name, pil_format, extension = "jpeg", "JPEG", ".jpg"
    quality_range, default_quality, quality_unit = (1.0, 100.0), 75.0, "libjpeg quality"
    description = "JPEG (libjpeg-turbo), 4:2:0, optimized Huffman tables"

    def settings(self) -> dict[str, Any]:
        return {"subsampling": "4:2:0", "optimize": True, "progressive": False}

    def save_options(self, quality, grey):
        return {"quality": int(round(quality)), "subsampling": "4:2:0", "optimize": True}


class WebpCodec(PillowImageCodec):
    name, pil_format, extension = "webp", "WEBP", ".webp"
    quality_range, default_quality, quality_unit = (0.0, 100.0), 75.0, "libwebp quality"
    description = "WebP lossy (libwebp), method 6"

    def settings(self) -> dict[str, Any]:
        return {"method": 6, "lossless": False}

    def save_options(self, quality, grey):
        return {"quality": int(round(quality)), "method": 6, "lossless": False}


class Jpeg2000Codec(PillowImageCodec):
    name, pil_format, extension = "jpeg2000", "JPEG2000", ".jp2"
    quality_range, default_quality, quality_unit = (20.0, 60.0), 38.0, "target PSNR, dB"
    description = "JPEG 2000 (OpenJPEG), irreversible 9/7 wavelet + colour transform, PSNR-targeted layer"

    def settings(self) -> dict[str, Any]:
        return {"wavelet": "9/7 irreversible", "mct": 1, "quality_mode": "dB", "layers": 1}

    def save_options(self, quality, grey):
        return {"quality_mode": "dB", "quality_layers": [int(round(quality))], "irreversible": True,
                "mct": 0 if grey else 1, "no_jp2": False}


class AvifCodec(PillowImageCodec):
    name, pil_format, extension = "avif", "AVIF", ".avif"
    quality_range, default_quality, quality_unit = (0.0, 100.0), 60.0, "libavif quality"
    description = "AVIF (libavif + libaom), 4:2:0, speed 6"

    def settings(self) -> dict[str, Any]:
        return {"codec": "aom", "subsampling": "4:2:0", "speed": 6}

    def save_options(self, quality, grey):
        return {"quality": int(round(quality)), "codec": "aom", "speed": 6,
                "subsampling": "4:0:0" if grey else "4:2:0"}


class PngCodec(PillowImageCodec):
    name, pil_format, extension = "png", "PNG", ".png"
    quality_range, default_quality, quality_unit = (0.0, 0.0), 0.0, "none (lossless)"
    lossless = True
    description = "PNG, lossless, compression level 9"

    def settings(self) -> dict[str, Any]:
        return {"compress_level": 9}

    def save_options(self, quality, grey):
        return {"compress_level": 9}


IMAGE_CODECS = [JpegCodec, WebpCodec, Jpeg2000Codec, AvifCodec, PngCodec]
