"""Write the golden streams and digests that tests/test_golden_streams.py checks.

Run once, before a change that must not alter streams or outputs::

    python tests/golden/generate.py

Every codec encodes the bundled sample of its kind (video: the first 8 frames, NeRV codecs
with a 3-epoch fit and a fixed seed; audio: the first second). The stream goes to
``tests/golden/<codec>.ncd``; ``digests.json`` holds the md5 of each stream and of its
decoded output. x264/x265/SVT-AV1/libvpx are not bit-stable across runs: their streams are
checked by decode only.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BIT_STABLE = {"h264", "h265", "av1", "vp9"}
#: header params that record how an encode went (wall time, device), not what it made
RUN_RECORDS = {"nerv": ("fit",), "hnerv": ("fit",)}
OPTIONS = {"nerv": {"epochs": "3", "seed": "0"}, "hnerv": {"epochs": "3", "seed": "0"}}
QUALITY = {"nerv": 0.5, "hnerv": 0.5}


def sample(kind: str):
    from ncodec.datasets.samples import load_sample
    from ncodec.media import Audio, Video

    media = load_sample(kind)
    if kind == "video":
        y, u, v = (p[:8] for p in media.to_yuv420().planes)
        media = Video.from_yuv420(y, u, v, media.fps)
    if kind == "audio":
        media = Audio(media.samples[:, : media.sample_rate], media.sample_rate)
    return media


def output_digest(media) -> str:
    """md5 of the decoded media's samples (video: its yuv420 planes)."""
    if media.kind == "image":
        raw = media.pixels.tobytes()
    elif media.kind == "video":
        raw = b"".join(p.tobytes() for p in media.to_yuv420().planes)
    else:
        raw = media.samples.tobytes()
    return hashlib.md5(raw).hexdigest()


def payload_digest(data: bytes, name: str) -> str:
    """md5 of the chunks and header params, leaving out the run records (fit time, device)."""
    from ncodec.container import Container

    c = Container.from_bytes(data)
    params = {k: v for k, v in c.params.items() if k not in RUN_RECORDS.get(name, ())}
    h = hashlib.md5(json.dumps([c.media, params, c.quality, c.weights], sort_keys=True).encode())
    for key in sorted(c.chunks):
        h.update(key.encode() + c.chunks[key])
    return h.hexdigest()


def main() -> int:
    import ncodec
    from ncodec.codecs import names

    digests = {}
    for name in names():
        media = sample(ncodec.codecs.codec_class(name).kind)
        codec = ncodec.codecs.get(name, **OPTIONS.get(name, {}))
        data = codec.encode(media, QUALITY.get(name))
        (HERE / f"{name}.ncd").write_bytes(data)
        digests[name] = {"stream_md5": hashlib.md5(data).hexdigest(), "payload_md5": payload_digest(data, name),
                         "bit_stable": name not in NOT_BIT_STABLE,
                         "output_md5": output_digest(ncodec.decode(data)), "options": OPTIONS.get(name, {}),
                         "quality": QUALITY.get(name)}
        print(name, len(data), digests[name]["stream_md5"], file=sys.stderr)
    (HERE / "digests.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
