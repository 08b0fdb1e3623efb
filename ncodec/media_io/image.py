"""Image files through Pillow: PNG, JPEG, WebP, BMP, TIFF in; PNG, JPEG, WebP out."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ncodec.errors import MediaError
from ncodec.media import MAX_PIXELS, Image
from ncodec.media_io.paths import PathLike, atomic_output, check_write_ext, existing_file, extension, wrap_error


IMAGE_READ_EXTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                   ".tif": "TIFF", ".tiff": "TIFF"}


IMAGE_WRITE_EXTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def read_image(path: PathLike) -> Image:
    """Read an image with Pillow as an 8-bit :class:`~ncodec.media.Image`.

    Mode conversions (stated here because they change the data):

    * ``L`` (8-bit grey) stays grey: ``H x W x 1``.
    * ``RGB`` stays ``H x W x 3``; every other mode is converted to RGB:
      ``RGBA``/``LA``/``PA``/``P`` with transparency -> alpha dropped (no compositing);
      ``P`` -> palette expanded; ``1`` -> 0 / 255; ``CMYK``/``YCbCr``/``LAB`` -> Pillow's
      RGB conversion; 16-bit grey (``I;16*``, and ``I`` with values above 255) -> scaled
      to 8 bits with rounding (``v * 255 / 65535``) and replicated to R = G = B;
      ``I`` with values in 0..255 and ``F`` -> rounded and clipped to 0..255 (``F`` in
      [0, 1] is first scaled by 255).
    * EXIF orientation is applied (the image is returned the way viewers show it).
    * Embedded ICC profiles are ignored (pixel values are taken as sRGB).
    * Multi-frame files (animated WebP/PNG, multi-page TIFF) give their first frame.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's bomb guard at ncodec's limit (checked below)
    p = existing_file(path)
    ext = extension(p)
    if ext not in IMAGE_READ_EXTS:
        raise MediaError(f"unsupported image extension {ext or '(none)'!r} for {str(p)!r}; "
                         f"supported: {' '.join(sorted(IMAGE_READ_EXTS))}")
    # Any of the supported formats may hide behind any supported extension (.jpg named .png).
    formats = sorted(set(IMAGE_READ_EXTS.values()))
    try:
        with PILImage.open(p, formats=formats) as im:
            w, h = im.size
            if w < 1 or h < 1 or w * h > MAX_PIXELS:
                raise MediaError(f"image {str(p)!r} is {w}x{h}, outside ncodec's limit of {MAX_PIXELS} pixels")
            im.seek(0)
            im = ImageOps.exif_transpose(im)
            pixels = _pil_to_array(im)
    except MediaError:
        raise
    except (UnidentifiedImageError, PILImage.DecompressionBombError) as exc:
        raise wrap_error(p, "read image", exc) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, MemoryError, IndexError, KeyError) as exc:
        raise wrap_error(p, "read image", exc) from None
    return Image(np.ascontiguousarray(pixels))


def _pil_to_array(im: Any) -> np.ndarray:
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.uint8)[:, :, None]
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8)
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im)
        if mode.startswith("I;16") or (mode == "I" and a.size and a.max() > 255):
            a = np.clip(a.astype(np.int64), 0, 65535)
            g = ((a * 255 + 32767) // 65535).astype(np.uint8)
        elif mode == "F":
            a = a.astype(np.float64)
            if a.size and np.nanmax(a) <= 1.0:
                a = a * 255.0
            g = np.clip(np.rint(np.nan_to_num(a)), 0, 255).astype(np.uint8)
        else:
            g = np.clip(a, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def write_image(image: Image, path: PathLike, quality: Optional[int] = None, **opts: Any) -> None:
    """Write an :class:`Image` as PNG (lossless), JPEG or WebP (lossy).

    ``quality`` applies to JPEG (default 95, 4:2:0 chroma) and WebP (default 90); PNG uses
    zlib level ``compress_level`` (default 6). Other ``opts`` go to Pillow's ``save``.
    Grey images are written as 8-bit grey (WebP stores them as colour).
    """
    from PIL import Image as PILImage

    if not isinstance(image, Image):
        raise MediaError(f"write_image needs an Image, got {type(image).__name__}")
    ext = check_write_ext(path, IMAGE_WRITE_EXTS, "image")
    fmt = IMAGE_WRITE_EXTS[ext]
    px = image.pixels
    im = PILImage.fromarray(px[:, :, 0], "L") if px.shape[2] == 1 else PILImage.fromarray(px, "RGB")
    save: dict[str, Any] = {}
    if fmt == "PNG":
        save["compress_level"] = 6
    elif fmt == "JPEG":
        save.update(quality=95 if quality is None else int(quality), subsampling="4:2:0", optimize=True)
    elif fmt == "WEBP":
        save.update(quality=90 if quality is None else int(quality), method=4)
    save.update(opts)
    with atomic_output(path) as tmp:
        try:
            im.save(tmp, format=fmt, **save)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise wrap_error(path, "write image", exc) from None
