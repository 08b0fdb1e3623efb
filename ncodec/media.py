"""Media types: plain numpy arrays plus the metadata a codec needs.

* :class:`Image` -- ``H x W x C`` uint8, ``C`` is 1 (grey) or 3 (RGB).
* :class:`Video` -- either RGB frames ``T x H x W x 3`` uint8 or YUV 4:2:0 planes
  (``Y``: ``T x H x W``, ``U``/``V``: ``T x ceil(H/2) x ceil(W/2)``), with a frame rate.
* :class:`Audio` -- ``channels x samples`` float32 in [-1, 1] with a sample rate.

Every type validates itself on construction, so a codec can trust what it receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

import numpy as np

from ncodec.errors import MediaError

#: Hard safety limits, also applied to sizes declared by untrusted containers.
MAX_PIXELS = 1 << 28  # 268 M pixels per image / frame
MAX_FRAMES = 1 << 20
MAX_CHANNELS = 64
MAX_ELEMENTS = 1 << 32  # any decoded array


@dataclass(frozen=True, eq=False)
class Image:
    """An 8-bit image, ``H x W x C`` with ``C`` in {1, 3}."""

    pixels: np.ndarray
    color_space: str = "srgb"

    kind = "image"

    def __post_init__(self) -> None:
        p = self.pixels
        if not isinstance(p, np.ndarray) or p.dtype != np.uint8 or p.ndim != 3 or p.shape[2] not in (1, 3):
            raise MediaError(
                f"an image must be an H x W x 1 or H x W x 3 uint8 array, got "
                f"{getattr(p, 'dtype', type(p))} {getattr(p, 'shape', '')}"
            )
        if p.shape[0] < 1 or p.shape[1] < 1 or p.shape[0] * p.shape[1] > MAX_PIXELS:
            raise MediaError(f"image size {p.shape[1]}x{p.shape[0]} is outside 1..{MAX_PIXELS} pixels")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def num_pixels(self) -> int:
        return self.height * self.width

    def metadata(self) -> dict[str, Any]:
        return {"kind": "image", "shape": list(self.pixels.shape), "dtype": "uint8",
                "color_space": self.color_space}


@dataclass(frozen=True, eq=False)
class Video:
    """An 8-bit video: RGB frames (``pix_fmt='rgb24'``) or YUV 4:2:0 planes (``'yuv420p'``).

    ``planes`` is ``(frames,)`` for rgb24 and ``(y, u, v)`` for yuv420p, each with the frame
    axis first. ``color_space`` names the YUV matrix (``bt601`` or ``bt709``) used when the
    video is converted between the two layouts.
    """

    planes: tuple[np.ndarray, ...]
    fps: Fraction
    pix_fmt: str = "rgb24"
    color_space: str = "bt601"

    kind = "video"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", Fraction(self.fps).limit_denominator(1_000_000))
        if not (0 < self.fps <= 1000):
            raise MediaError(f"fps must be in (0, 1000], got {float(self.fps)}")
        if self.color_space not in ("bt601", "bt709"):
            raise MediaError(f"unknown colour space {self.color_space!r} (bt601 or bt709)")
        planes = tuple(self.planes)
        object.__setattr__(self, "planes", planes)
        if any(not isinstance(p, np.ndarray) or p.dtype != np.uint8 for p in planes):
            raise MediaError("video planes must be uint8 numpy arrays")
        if self.pix_fmt == "rgb24":
            if len(planes) != 1 or planes[0].ndim != 4 or planes[0].shape[3] != 3:
                raise MediaError("rgb24 video must be one T x H x W x 3 array")
        elif self.pix_fmt == "yuv420p":
            if len(planes) != 3 or any(p.ndim != 3 for p in planes):
                raise MediaError("yuv420p video must be three T x H x W planes")
            t, h, w = planes[0].shape
            ch = ((h + 1) // 2, (w + 1) // 2)
            if planes[1].shape != (t, *ch) or planes[2].shape != (t, *ch):
                raise MediaError(f"chroma planes must be {t} x {ch[0]} x {ch[1]} for a {w}x{h} video")
        else:
            raise MediaError(f"unknown pixel format {self.pix_fmt!r} (rgb24 or yuv420p)")
        t, h, w = planes[0].shape[:3]
        if not (1 <= t <= MAX_FRAMES) or h < 1 or w < 1 or h * w > MAX_PIXELS:
            raise MediaError(f"video shape {t} x {h} x {w} is outside ncodec's limits")

    @classmethod
    def from_rgb(cls, frames: np.ndarray, fps: Union[Fraction, float, int], color_space: str = "bt601") -> "Video":
        return cls((frames,), Fraction(fps), "rgb24", color_space)

    @classmethod
    def from_yuv420(cls, y: np.ndarray, u: np.ndarray, v: np.ndarray,
                    fps: Union[Fraction, float, int], color_space: str = "bt601") -> "Video":
        return cls((y, u, v), Fraction(fps), "yuv420p", color_space)

    @property
    def num_frames(self) -> int:
        return int(self.planes[0].shape[0])

    @property
    def height(self) -> int:
        return int(self.planes[0].shape[1])

    @property
    def width(self) -> int:
        return int(self.planes[0].shape[2])

    @property
    def num_pixels(self) -> int:
        """Pixels over all frames (the denominator of bits per pixel)."""
        return self.num_frames * self.height * self.width

    @property
    def duration(self) -> float:
        return self.num_frames / float(self.fps)

    def to_yuv420(self) -> "Video":
        if self.pix_fmt == "yuv420p":
            return self
        from ncodec.colour import rgb_to_yuv420

        y, u, v = rgb_to_yuv420(self.planes[0], self.color_space)
        return Video((y, u, v), self.fps, "yuv420p", self.color_space)

    def to_rgb(self) -> "Video":
        if self.pix_fmt == "rgb24":
            return self
        from ncodec.colour import yuv420_to_rgb

        return Video((yuv420_to_rgb(*self.planes, self.color_space),), self.fps, "rgb24", self.color_space)

    def metadata(self) -> dict[str, Any]:
        return {"kind": "video", "shape": [self.num_frames, self.height, self.width],
                "dtype": "uint8", "pix_fmt": self.pix_fmt, "color_space": self.color_space,
                "fps": [self.fps.numerator, self.fps.denominator]}


@dataclass(frozen=True, eq=False)
class Audio:
    """Audio samples, ``channels x samples`` float32 in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    kind = "audio"

    def __post_init__(self) -> None:
        s = self.samples
        if not isinstance(s, np.ndarray) or s.ndim != 2 or s.dtype != np.float32:
            raise MediaError(f"audio must be a channels x samples float32 array, got "
                             f"{getattr(s, 'dtype', type(s))} {getattr(s, 'shape', '')}")
        if not (1 <= s.shape[0] <= MAX_CHANNELS) or s.shape[1] < 1:
            raise MediaError(f"audio shape {s.shape} is outside 1..{MAX_CHANNELS} channels, >= 1 sample")
        if not (1000 <= int(self.sample_rate) <= 768_000):
            raise MediaError(f"sample rate {self.sample_rate} is outside 1000..768000 Hz")
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    def metadata(self) -> dict[str, Any]:
        return {"kind": "audio", "shape": [self.channels, self.num_samples], "dtype": "float32",
                "sample_rate": self.sample_rate, "channels": self.channels}


Media = Union[Image, Video, Audio]
MEDIA_KINDS = ("image", "video", "audio")
