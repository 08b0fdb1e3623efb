"""YUV4MPEG2 (.y4m): exact 8-bit 4:2:0 video without FFmpeg, read with bounded memory."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ncodec.errors import MediaError
from ncodec.media import MAX_FRAMES, MAX_PIXELS, Video
from ncodec.media_io.paths import wrap_error
from ncodec.media_io.pyav import even_size, guess_color_space, resize_planes


_Y4M_MAGIC = b"YUV4MPEG2"


_Y4M_HEADER_MAX = 4096


_Y4M_FRAME_HEADER_MAX = 1024


_Y4M_420 = {b"420", b"420jpeg", b"420paldv", b"420mpeg2"}


def _read_line(f: Any, limit: int, what: str, path: Path) -> bytes:
    line = f.readline(limit + 1)
    if line and not line.endswith(b"\n"):
        if len(line) > limit:
            raise MediaError(f"y4m {what} in {str(path)!r} is longer than {limit} bytes")
        raise MediaError(f"y4m file {str(path)!r} ends inside a {what}")
    return line


def read_y4m(p: Path, max_frames: Optional[int], max_side: Optional[int]) -> Video:
    try:
        with open(p, "rb") as f:
            header = _read_line(f, _Y4M_HEADER_MAX, "header", p)
            tokens = header.split()
            if not tokens or tokens[0] != _Y4M_MAGIC:
                raise MediaError(f"{str(p)!r} is not a YUV4MPEG2 (y4m) file")
            w = h = None
            fps = None
            chroma = b"420jpeg"
            full_range = False
            color_space = None
            for tok in tokens[1:]:
                key, val = tok[:1], tok[1:]
                try:
                    if key == b"W":
                        w = int(val)
                    elif key == b"H":
                        h = int(val)
                    elif key == b"F":
                        num, den = val.split(b":")
                        fps = Fraction(int(num), int(den))
                    elif key == b"C":
                        chroma = val
                    elif key == b"X":
                        if val.upper() == b"COLORRANGE=FULL":
                            full_range = True
                        elif val.startswith(b"NCODEC_COLORSPACE="):
                            color_space = val.split(b"=", 1)[1].decode("ascii", "replace")
                except (ValueError, ZeroDivisionError):
                    raise MediaError(f"invalid y4m header field {tok[:40]!r} in {str(p)!r}") from None
            if w is None or h is None or w < 1 or h < 1 or w * h > MAX_PIXELS:
                raise MediaError(f"y4m header of {str(p)!r} has a missing or invalid size (W{w} H{h})")
            if fps is None or not (0 < fps <= 1000):
                raise MediaError(f"y4m header of {str(p)!r} has a missing or invalid frame rate")
            if chroma not in _Y4M_420:
                raise MediaError(f"y4m file {str(p)!r} has chroma format C{chroma.decode('ascii', 'replace')}; "
                                 "only 8-bit 4:2:0 (C420, C420jpeg, C420paldv, C420mpeg2) is supported")
            if color_space not in (None, "bt601", "bt709"):
                color_space = None
            color_space = color_space or guess_color_space(h)
            cw, ch = (w + 1) // 2, (h + 1) // 2
            frame_bytes = w * h + 2 * cw * ch
            remaining = p.stat().st_size - f.tell()
            cap = remaining // (frame_bytes + 6)  # every frame needs at least b"FRAME\n"
            if max_frames is not None:
                cap = min(cap, int(max_frames))
            cap = min(cap, MAX_FRAMES)
            if cap < 1:
                raise MediaError(f"y4m file {str(p)!r} contains no complete frame")
            y = np.empty((cap, h, w), np.uint8)
            u = np.empty((cap, ch, cw), np.uint8)
            v = np.empty((cap, ch, cw), np.uint8)
            n = 0
            while n < cap:
                line = _read_line(f, _Y4M_FRAME_HEADER_MAX, "frame header", p)
                if not line:
                    break
                if not line.startswith(b"FRAME"):
                    raise MediaError(f"y4m file {str(p)!r}: expected FRAME at frame {n}, found {line[:16]!r}")
                data = f.read(frame_bytes)
                if len(data) != frame_bytes:
                    raise MediaError(f"y4m file {str(p)!r} is truncated inside frame {n}")
                buf = np.frombuffer(data, np.uint8)
                y[n] = buf[:w * h].reshape(h, w)
                u[n] = buf[w * h:w * h + cw * ch].reshape(ch, cw)
                v[n] = buf[w * h + cw * ch:].reshape(ch, cw)
                n += 1
            if (max_frames is None or n < int(max_frames)) and f.read(1):
                raise MediaError(f"y4m file {str(p)!r} is truncated or has trailing data after frame {n}")
    except MediaError:
        raise
    except (OSError, MemoryError) as exc:
        raise wrap_error(p, "read video", exc) from None
    if n == 0:
        raise MediaError(f"y4m file {str(p)!r} contains no frames")
    y, u, v = y[:n], u[:n], v[:n]
    if full_range:
        y = np.clip(np.rint(16.0 + y.astype(np.float32) * (219.0 / 255.0)), 0, 255).astype(np.uint8)
        u = np.clip(np.rint(128.0 + (u.astype(np.float32) - 128.0) * (224.0 / 255.0)), 0, 255).astype(np.uint8)
        v = np.clip(np.rint(128.0 + (v.astype(np.float32) - 128.0) * (224.0 / 255.0)), 0, 255).astype(np.uint8)
    nw, nh = even_size(w, h, max_side)
    if (nw, nh) != (w, h):
        frames = [resize_planes(y[i], u[i], v[i], nw, nh) for i in range(n)]
        y, u, v = (np.stack([fr[k] for fr in frames]) for k in range(3))
    return Video((np.ascontiguousarray(y), np.ascontiguousarray(u), np.ascontiguousarray(v)),
                 fps, "yuv420p", color_space)


def write_y4m(video: Video, tmp: str) -> None:
    y, u, v = video.to_yuv420().planes
    t, h, w = y.shape
    fps = video.fps
    header = (f"YUV4MPEG2 W{w} H{h} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg "
              f"XCOLORRANGE=LIMITED XNCODEC_COLORSPACE={video.color_space}\n").encode("ascii")
    with open(tmp, "wb") as f:
        f.write(header)
        for i in range(t):
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(y[i]).tobytes())
            f.write(np.ascontiguousarray(u[i]).tobytes())
            f.write(np.ascontiguousarray(v[i]).tobytes())
