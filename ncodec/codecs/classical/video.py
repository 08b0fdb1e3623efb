"""Classical video codecs through PyAV (FFmpeg): H.264, H.265, AV1 and VP9.

All four code 8-bit YUV 4:2:0 (RGB input is converted with
:func:`ncodec.colour.rgb_to_yuv420`, the video's own matrix) and store one chunk,
``bitstream``: the encoder's elementary stream in its plainest standard file form --
Annex B ``.h264`` / ``.hevc`` for x264 / x265 and ``.ivf`` for SVT-AV1 / libvpx-vp9 --
which any FFmpeg-based player opens. ``params`` records the frame rate, the exact encoder
options and any padding.

Quality convention (all four): the knob **is the encoder's CRF**, so *lower is better*
(more bits): x264 / x265 CRF 0..51, SVT-AV1 CRF 1..63, VP9 CRF 0..63 (constant-quality
mode, ``b:v 0``). ``quality_unit`` says so for each codec.

Settings (chosen as an expert would for an RD comparison):

* ``h264`` -- libx264, ``preset medium``, CRF, optional ``tune psnr``; **frame**
  threading like the ffmpeg CLI (PyAV's default slice threading makes x264 cut every
  frame into slices and compress worse; checked: the x264 SEI reports
  ``sliced_threads=0``). x264 writes a ~0.7 KB SEI with its version and option string
  into every stream; it carries no picture data and is removed, so the rate counts
  coded pictures only (FFmpeg's decoder then applies no old-x264 workarounds, which is
  right for this x264).
* ``h265`` -- libx265, ``preset medium``, CRF, optional ``tune psnr``, ``info=0`` (no
  option-string SEI, same reason), x265's own thread pool.
* ``av1`` -- libsvtav1, ``preset 8``, CRF (SVT-AV1's default tune is PSNR; ``tune='psnr'``
  sets it explicitly).
* ``vp9`` -- libvpx-vp9, ``deadline good``, ``cpu-used 4``, ``row-mt 1``, CRF with
  ``b:v 0`` (constant quality), libvpx's default alt-ref / lag settings.

Sizes: 4:2:0 encoders need even dimensions, so odd sizes are padded by replicating the
last row / column and cropped after decoding (``params['coded_width'/'coded_height']``).
Some encoders also have minimum sizes (x265 >= 16, SVT-AV1 >= 8), and two encoders in
this FFmpeg build fail on some small sizes, so those are padded too: libx265 corrupts its
heap (abort) on widths 33..63 (seen at 34..48) -> width 64; SVT-AV1 hangs when one side
is under 32 and the other over 64 (e.g. 8x66, 68x16) -> both sides at least 32 then. The decoder returns exactly the frames, size, fps and colour space that
were encoded. libx264 output can vary by ~0.1 % from run to run inside one process once
an FFmpeg decoder has run, so never compare x264 bitstreams by checksum.
"""

from __future__ import annotations

import io
import os
from fractions import Fraction
from typing import Any, ClassVar, Optional

import numpy as np

from ncodec.codecs.base import Codec
from ncodec.container import Container
from ncodec.media_io.pyav import add_yuv420_stream, frame_to_planes, planes_to_frame
from ncodec.errors import CorruptStreamError, MediaError
from ncodec.media import MAX_PIXELS, Video

CHUNK = "bitstream"
_MAX_PAD = 64
# FFmpeg AVColorSpace / AVColorRange values written into the streams
# x264's user-data-unregistered SEI UUID (its version / option string)
_X264_SEI_UUID = bytes.fromhex("dc45e9bde6d948b7962cd820d923eeef")


def _pad_plane(p: np.ndarray, h: int, w: int) -> np.ndarray:
    if p.shape == (h, w):
        return p
    return np.pad(p, ((0, h - p.shape[0]), (0, w - p.shape[1])), mode="edge")


def _strip_x264_info_sei(stream: bytes) -> bytes:
    """Remove x264's informational SEI NAL unit(s) from an Annex B H.264 stream."""
    out = bytearray()
    pos = 0
    n = len(stream)
    starts: list[int] = []
    i = stream.find(b"\x00\x00\x01", 0)
    while i != -1:
        starts.append(i)
        i = stream.find(b"\x00\x00\x01", i + 3)
    if not starts:
        return stream
    for k, s in enumerate(starts):
        begin = s - 1 if s > 0 and stream[s - 1] == 0 else s  # 4-byte start code
        end = starts[k + 1] if k + 1 < len(starts) else n
        if k + 1 < len(starts) and end > 0 and stream[end - 1] == 0:
            end -= 1
        nal = stream[s + 3:end]
        is_info = (len(nal) > 18 and nal[0] & 0x1F == 6 and nal[1] == 5
                   and _X264_SEI_UUID in nal[2:24])
        if is_info:
            out += stream[pos:begin]
            pos = end
    out += stream[pos:]
    return bytes(out)


class _AVVideoCodec(Codec):
    """Shared PyAV plumbing; subclasses name the encoder, the file format and the options."""

    kind = "video"
    encoder: ClassVar[str]
    muxer: ClassVar[str]
    extension: ClassVar[str]
    integer_quality = True
    min_size: ClassVar[int] = 2
    tunes: ClassVar[tuple[Optional[str], ...]] = (None, "psnr")

    def __init__(self, tune: Optional[str] = None) -> None:
        if tune not in self.tunes:
            raise MediaError(f"{self.name} tune must be one of {self.tunes}, got {tune!r}")
        self.tune = tune

    # ------------------------------------------------------------------ hooks
    def _options(self, quality: float) -> dict[str, str]:
        raise NotImplementedError

    def _coded_size(self, w: int, h: int) -> tuple[int, int]:
        cw, ch = w + w % 2, h + h % 2
        return max(cw, self.min_size), max(ch, self.min_size)

    def _postprocess(self, payload: bytes) -> bytes:
        return payload

    def settings(self) -> dict[str, Any]:
        opts = self._options(self.default_quality)
        opts.pop("crf", None)
        return {"encoder": self.encoder, "format": self.muxer, "pix_fmt": "yuv420p", "tune": self.tune,
                "thread_type": "FRAME", "rate_control": "crf", **opts}

    # ------------------------------------------------------------------ encode
    def _encode(self, media: Video, quality: float) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any]]:
        import av

        yuv = media.to_yuv420()
        y, u, v = yuv.planes
        t, h, w = y.shape
        cw, ch = self._coded_size(w, h)
        if cw * ch > MAX_PIXELS:
            raise MediaError(f"{self.name}: a {w}x{h} video is too large")
        fps = yuv.fps
        opts = self._options(quality)
        if self.encoder == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # errors only (read once, at the first SVT encoder)
        buf = io.BytesIO()
        try:
            with av.open(buf, mode="w", format=self.muxer, options={"fflags": "+bitexact"}) as out:
                stream = add_yuv420_stream(out, self.encoder, fps, cw, ch, opts, yuv.color_space)
                cc = stream.codec_context
                if self.encoder == "libvpx-vp9":
                    cc.bit_rate = 0
                for i in range(t):
                    frame = planes_to_frame(_pad_plane(y[i], ch, cw), _pad_plane(u[i], (ch + 1) // 2, (cw + 1) // 2),
                                             _pad_plane(v[i], (ch + 1) // 2, (cw + 1) // 2))
                    frame.pts = i
                    frame.time_base = cc.time_base
                    frame.colorspace = cc.colorspace
                    frame.color_range = cc.color_range
                    for pkt in stream.encode(frame):
                        out.mux(pkt)
                for pkt in stream.encode(None):
                    out.mux(pkt)
        except av.FFmpegError as exc:
            raise MediaError(f"{self.name} ({self.encoder}) failed on a {w}x{h} video: {exc}") from None
        payload = self._postprocess(buf.getvalue())
        params = {
            "encoder": self.encoder, "format": self.muxer, "crf": float(quality),
            "options": opts, "tune": self.tune, "thread_type": "FRAME",
            "fps": [fps.numerator, fps.denominator], "frames": t,
            "coded_width": cw, "coded_height": ch, "padded": (cw, ch) != (w, h),
        }
        return {CHUNK: payload}, params, yuv.metadata()

    # ------------------------------------------------------------------ decode
    def _decode(self, container: Container) -> Video:
        import av

        data = container.chunks.get(CHUNK)
        if data is None:
            raise CorruptStreamError(f"{self.name} stream has no {CHUNK!r} chunk")
        meta, p = container.media, container.params
        t, h, w = meta["shape"]
        cw, ch = p.get("coded_width"), p.get("coded_height")
        if (not isinstance(cw, int) or not isinstance(ch, int) or not (w <= cw <= w + _MAX_PAD)
                or not (h <= ch <= h + _MAX_PAD)):
            raise CorruptStreamError(f"{self.name} stream has an invalid coded size {cw}x{ch} for {w}x{h}")
        ys: list[np.ndarray] = []
        us: list[np.ndarray] = []
        vs: list[np.ndarray] = []
        cch, ccw = (h + 1) // 2, (w + 1) // 2
        with av.open(io.BytesIO(data), mode="r", format=self.muxer) as src:
            if not src.streams.video:
                raise CorruptStreamError(f"{self.name} payload holds no video stream")
            stream = src.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in src.decode(stream):
                if (frame.width, frame.height) != (cw, ch):
                    raise CorruptStreamError(f"{self.name} payload decodes to {frame.width}x{frame.height} "
                                             f"frames, expected {cw}x{ch}")
                if frame.format.name != "yuv420p":
                    raise CorruptStreamError(f"{self.name} payload decodes to {frame.format.name}, expected yuv420p")
                fy, fu, fv = frame_to_planes(frame)
                ys.append(fy[:h, :w])
                us.append(fu[:cch, :ccw])
                vs.append(fv[:cch, :ccw])
                if len(ys) > t:
                    raise CorruptStreamError(f"{self.name} payload holds more than the {t} declared frames")
        if len(ys) != t:
            raise CorruptStreamError(f"{self.name} payload decodes to {len(ys)} frames, header declares {t}")
        fps = Fraction(*meta["fps"])
        return Video((np.stack(ys), np.stack(us), np.stack(vs)), fps, "yuv420p", meta["color_space"])


class H264Codec(_AVVideoCodec):
    name = "h264"
    encoder = "libx264"
    muxer = "h264"
    extension = ".h264"
    integer_quality = False
    quality_range = (0, 51)
    default_quality = 23
    quality_unit = "x264 CRF 0..51 (LOWER is better: more bits; 0 = lossless)"
    description = ("H.264 / AVC (libx264): preset medium, CRF 0..51 (lower is better), frame threading, "
                   "yuv420p, Annex B stream without x264's option-string SEI")
    preset: ClassVar[str] = "medium"

    def _options(self, quality: float) -> dict[str, str]:
        opts = {"preset": self.preset, "crf": f"{float(quality):g}"}
        if self.tune:
            opts["tune"] = self.tune
        return opts

    def _postprocess(self, payload: bytes) -> bytes:
        return _strip_x264_info_sei(payload)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "info_sei": "removed"}


class H265Codec(_AVVideoCodec):
    name = "h265"
    encoder = "libx265"
    muxer = "hevc"
    extension = ".hevc"
    integer_quality = False
    min_size = 16
    quality_range = (0, 51)
    default_quality = 28
    quality_unit = "x265 CRF 0..51 (LOWER is better: more bits)"
    description = ("H.265 / HEVC (libx265): preset medium, CRF 0..51 (lower is better), yuv420p, "
                   "Annex B stream, no option-string SEI")
    preset: ClassVar[str] = "medium"

    def _options(self, quality: float) -> dict[str, str]:
        opts = {"preset": self.preset, "crf": f"{float(quality):g}", "x265-params": "log-level=error:info=0"}
        if self.tune:
            opts["tune"] = self.tune
        return opts

    def _coded_size(self, w: int, h: int) -> tuple[int, int]:
        cw, ch = super()._coded_size(w, h)
        if 32 < cw < 64:  # libx265 heap corruption on these widths (see the module docstring)
            cw = 64
        return cw, ch


class AV1Codec(_AVVideoCodec):
    name = "av1"
    encoder = "libsvtav1"
    muxer = "ivf"
    extension = ".ivf"
    min_size = 8
    quality_range = (1, 63)
    default_quality = 35
    quality_unit = "SVT-AV1 CRF 1..63 (LOWER is better: more bits)"
    description = "AV1 (SVT-AV1): preset 8, CRF 1..63 (lower is better), yuv420p 8-bit, IVF file"
    preset: ClassVar[int] = 8

    def _coded_size(self, w: int, h: int) -> tuple[int, int]:
        cw, ch = super()._coded_size(w, h)
        if max(cw, ch) > 64:  # SVT-AV1 hangs on e.g. 8x66 or 68x16 (a side < 32, the other > 64)
            cw, ch = max(cw, 32), max(ch, 32)
        return cw, ch

    def _options(self, quality: float) -> dict[str, str]:
        opts = {"preset": str(self.preset), "crf": str(int(quality))}
        if self.tune == "psnr":
            opts["svtav1-params"] = "tune=1"
        return opts


class VP9Codec(_AVVideoCodec):
    name = "vp9"
    encoder = "libvpx-vp9"
    muxer = "ivf"
    extension = ".ivf"
    quality_range = (0, 63)
    default_quality = 32
    quality_unit = "libvpx CRF 0..63, constant-quality mode (LOWER is better: more bits)"
    description = ("VP9 (libvpx-vp9): deadline good, cpu-used 4, row-mt, CRF 0..63 with b:v 0 "
                   "(lower is better), yuv420p, IVF file")

    def _options(self, quality: float) -> dict[str, str]:
        opts = {"deadline": "good", "cpu-used": "4", "row-mt": "1", "crf": str(int(quality)), "b": "0"}
        if self.tune:
            opts["tune"] = self.tune
        return opts


