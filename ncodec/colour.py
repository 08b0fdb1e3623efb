"""RGB <-> YUV 4:2:0 conversion (8-bit, limited "TV" range), in plain numpy.

This is ncodec's own deterministic implementation (it does not call FFmpeg's swscale), so
results are bit-identical on every machine and independent of the PyAV build.

Matrix (ITU-R BT.601 / BT.709 "Y'CbCr", limited range), with ``R, G, B`` in [0, 255]::

    Kr, Kb = 0.299, 0.114      (bt601)       Kr, Kb = 0.2126, 0.0722    (bt709)
    Kg = 1 - Kr - Kb
    E  = Kr*R + Kg*G + Kb*B                          (luma, 0..255)
    Y  = 16  + 219/255 * E
    Cb = 128 + 224/255 * (B - E) / (2 * (1 - Kb))
    Cr = 128 + 224/255 * (R - E) / (2 * (1 - Kr))

and the exact inverse for YUV -> RGB. Values are rounded half-to-even (``numpy.rint``) and
clipped to [0, 255]; Y is *not* clipped to [16, 235] (real streams contain footroom and
headroom values, and keeping them makes the conversion reversible).

Chroma sub-sampling uses centred siting (JPEG / MPEG-1 style): each chroma sample is the
mean of its 2 x 2 block of full-resolution Cb/Cr values (computed in floating point, before
rounding). Odd sizes are handled by replicating the last row / column, so chroma planes are
``ceil(H/2) x ceil(W/2)``. Up-sampling is nearest-neighbour (each chroma sample covers its
2 x 2 block) by default, or ``upsample="bilinear"`` (centred, 3:1 / 1:3 weights, edge
replicated). With the default, ``rgb_to_yuv420(yuv420_to_rgb(y, u, v))`` returns the planes
it started from to within +-1 level except where the YUV value lies outside the RGB gamut
and had to be clipped; ``yuv420_to_rgb(rgb_to_yuv420(x))`` is within +-2 levels wherever the
chroma of ``x`` is constant over each 2 x 2 block (grey images, flat areas).
"""

from __future__ import annotations

import numpy as np

from ncodec.errors import MediaError

__all__ = ["COLOR_SPACES", "rgb_to_yuv420", "yuv420_to_rgb", "rgb_to_ycbcr", "ycbcr_to_rgb"]

#: (Kr, Kb) luma coefficients of each supported matrix.
COLOR_SPACES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
}

# Process this many pixels at a time so a long video never needs one huge float array.
_BLOCK_PIXELS = 1 << 22


def _coefficients(color_space: str) -> tuple[float, float, float]:
    try:
        kr, kb = COLOR_SPACES[color_space]
    except KeyError:
        raise MediaError(f"unknown colour space {color_space!r}; use one of {sorted(COLOR_SPACES)}") from None
    return kr, 1.0 - kr - kb, kb


def _rgb_to_ycbcr_float(rgb: np.ndarray, color_space: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kr, kg, kb = _coefficients(color_space)
    rgb = rgb.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    e = kr * r + kg * g + kb * b
    y = 16.0 + (219.0 / 255.0) * e
    cb = 128.0 + (224.0 / 255.0) / (2.0 * (1.0 - kb)) * (b - e)
    cr = 128.0 + (224.0 / 255.0) / (2.0 * (1.0 - kr)) * (r - e)
    return y, cb, cr


def _ycbcr_to_rgb_float(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, color_space: str) -> np.ndarray:
    kr, kg, kb = _coefficients(color_space)
    e = (y.astype(np.float32) - 16.0) * (255.0 / 219.0)
    pb = (cb.astype(np.float32) - 128.0) * (255.0 / 224.0)  # = (B - E) / (2 (1 - Kb))
    pr = (cr.astype(np.float32) - 128.0) * (255.0 / 224.0)  # = (R - E) / (2 (1 - Kr))
    r = e + 2.0 * (1.0 - kr) * pr
    b = e + 2.0 * (1.0 - kb) * pb
    g = (e - kr * r - kb * b) / kg
    return np.stack([r, g, b], axis=-1)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
        raise MediaError(f"expected T x H x W x 3 uint8 frames, got {getattr(frames, 'dtype', type(frames))} "
                         f"{getattr(frames, 'shape', '')}")
    return frames


def _downsample(c: np.ndarray) -> np.ndarray:
    """Mean of 2 x 2 blocks over the last two axes, replicating the last row/column if odd."""
    h, w = c.shape[-2:]
    if h % 2:
        c = np.concatenate([c, c[..., -1:, :]], axis=-2)
    if w % 2:
        c = np.concatenate([c, c[..., :, -1:]], axis=-1)
    return 0.25 * (c[..., 0::2, 0::2] + c[..., 1::2, 0::2] + c[..., 0::2, 1::2] + c[..., 1::2, 1::2])


def _upsample_nearest(c: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.repeat(np.repeat(c, 2, axis=-2), 2, axis=-1)[..., :h, :w]


def _upsample_bilinear_1d(c: np.ndarray, axis: int, n: int) -> np.ndarray:
    """Centred 2x up-sampling along ``axis``: out[2i] = .75 c[i] + .25 c[i-1], out[2i+1] = .75 c[i] + .25 c[i+1]."""
    c = np.moveaxis(c, axis, -1)
    prev = np.concatenate([c[..., :1], c[..., :-1]], axis=-1)
    nxt = np.concatenate([c[..., 1:], c[..., -1:]], axis=-1)
    out = np.empty(c.shape[:-1] + (2 * c.shape[-1],), dtype=np.float32)
    out[..., 0::2] = 0.75 * c + 0.25 * prev
    out[..., 1::2] = 0.75 * c + 0.25 * nxt
    return np.moveaxis(out[..., :n], -1, axis)


def _upsample(c: np.ndarray, h: int, w: int, method: str) -> np.ndarray:
    c = c.astype(np.float32)
    if method == "nearest":
        return _upsample_nearest(c, h, w)
    if method == "bilinear":
        return _upsample_bilinear_1d(_upsample_bilinear_1d(c, -2, h), -1, w)
    raise MediaError(f"unknown chroma up-sampling {method!r} (nearest or bilinear)")


def _frame_batches(t: int, h: int, w: int) -> range:
    step = max(1, _BLOCK_PIXELS // max(1, h * w))
    return range(0, t, step)


def rgb_to_yuv420(frames: np.ndarray, color_space: str = "bt601") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB frames ``T x H x W x 3`` uint8 -> planes ``(Y: T x H x W, U, V: T x ceil(H/2) x ceil(W/2))``.

    Limited range, matrix ``color_space`` ('bt601' or 'bt709'), 2 x 2 mean chroma
    down-sampling (see the module docstring for the exact formulas).
    """
    frames = _check_frames(frames)
    _coefficients(color_space)
    t, h, w, _ = frames.shape
    ch, cw = (h + 1) // 2, (w + 1) // 2
    y = np.empty((t, h, w), np.uint8)
    u = np.empty((t, ch, cw), np.uint8)
    v = np.empty((t, ch, cw), np.uint8)
    step = _frame_batches(t, h, w).step
    for s in range(0, t, step):
        yf, cb, cr = _rgb_to_ycbcr_float(frames[s:s + step], color_space)
        y[s:s + step] = _to_u8(yf)
        u[s:s + step] = _to_u8(_downsample(cb))
        v[s:s + step] = _to_u8(_downsample(cr))
    return y, u, v


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, color_space: str = "bt601",
                  upsample: str = "nearest") -> np.ndarray:
    """YUV 4:2:0 planes (as returned by :func:`rgb_to_yuv420`) -> RGB frames ``T x H x W x 3`` uint8.

    ``upsample`` is the chroma interpolation: ``'nearest'`` (default; makes
    RGB -> YUV -> RGB -> YUV stable) or ``'bilinear'`` (smoother for viewing).
    """
    for name, p in (("y", y), ("u", u), ("v", v)):
        if not isinstance(p, np.ndarray) or p.dtype != np.uint8 or p.ndim != 3:
            raise MediaError(f"plane {name} must be a T x H x W uint8 array")
    t, h, w = y.shape
    ch, cw = (h + 1) // 2, (w + 1) // 2
    if u.shape != (t, ch, cw) or v.shape != (t, ch, cw):
        raise MediaError(f"chroma planes must be {t} x {ch} x {cw} for {t} x {h} x {w} luma, "
                         f"got {u.shape} and {v.shape}")
    _coefficients(color_space)
    out = np.empty((t, h, w, 3), np.uint8)
    step = _frame_batches(t, h, w).step
    for s in range(0, t, step):
        cb = _upsample(u[s:s + step], h, w, upsample)
        cr = _upsample(v[s:s + step], h, w, upsample)
        out[s:s + step] = _to_u8(_ycbcr_to_rgb_float(y[s:s + step], cb, cr, color_space))
    return out


def rgb_to_ycbcr(rgb: np.ndarray, color_space: str = "bt601") -> np.ndarray:
    """Full-resolution (4:4:4) limited-range Y'CbCr of ``... x 3`` uint8 RGB, as uint8 ``... x 3``."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape[-1:] != (3,):
        raise MediaError("expected a ... x 3 uint8 RGB array")
    y, cb, cr = _rgb_to_ycbcr_float(rgb, color_space)
    return _to_u8(np.stack([y, cb, cr], axis=-1))


def ycbcr_to_rgb(ycbcr: np.ndarray, color_space: str = "bt601") -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`."""
    if not isinstance(ycbcr, np.ndarray) or ycbcr.dtype != np.uint8 or ycbcr.shape[-1:] != (3,):
        raise MediaError("expected a ... x 3 uint8 Y'CbCr array")
    return _to_u8(_ycbcr_to_rgb_float(ycbcr[..., 0], ycbcr[..., 1], ycbcr[..., 2], color_space))
