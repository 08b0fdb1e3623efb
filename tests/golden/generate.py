"""Write the golden streams and digests that tests/test_golden_streams.py checks.

Run once, before a change that must not alter streams or outputs::

    python tests/golden/generate.py

Every codec encodes the bundled sample of its kind (video: the first 8 frames, NeRV codecs
with a 3-epoch fit and a fixed seed; audio: the first second). The stream goes to
``tests/golden/<codec>.ncd``; ``digests.json`` holds the md5 of each stream and of its
decoded output. x264/x265/SVT-AV1/libvpx are not bit-stable across runs, and libopus picks
SIMD code paths by CPU: their streams are checked by decode only.

Learned codecs also record the md5 of their decoded latents (the integer symbols: the same on
every machine, see :mod:`ncodec.determinism`) and keep their decoded output in
``outputs/<codec>.npz``: their synthesis runs in float32, whose last bits differ between CPUs,
so on another machine the output may differ from the recorded md5 by ``TOLERANCE``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BIT_STABLE = {"h264", "h265", "av1", "vp9", "opus"}
#: how far a learned codec's output may be from the recorded one on another machine: the largest
#: difference (8-bit levels; audio: one 16-bit step) and the share of values that may differ
TOLERANCE = {"image": (1, 1e-3), "video": (1, 1e-3), "audio": (2.0 ** -15, 1.0)}
#: header params that record how an encode went (wall time, device), not what it made
RUN_RECORDS = {"nerv": ("fit",), "hnerv": ("fit",)}
OPTIONS = {"nerv": {"epochs": "3", "seed": "0"}, "hnerv": {"epochs": "3", "seed": "0"}}
QUALITY = {"nerv": 0.5, "hnerv": 0.5}


#: codecs whose golden item is the bundled sample made stereo (mid/side coding is what they add)
STEREO = {"wavelet-music"}


def sample(kind: str, name: str = ""):
    """The golden item of codec ``name`` of ``kind``: the bundled sample (video: 8 frames, audio:
    the first second; for :data:`STEREO` codecs the left channel the sample, the right a delayed,
    quieter copy)."""
    import numpy as np

    from ncodec.datasets.samples import load_sample
    from ncodec.media import Audio, Video

    media = load_sample(kind)
    if kind == "video":
        y, u, v = (p[:8] for p in media.to_yuv420().planes)
        media = Video.from_yuv420(y, u, v, media.fps)
    if kind == "audio":
        x = media.samples[:, : media.sample_rate]
        if name in STEREO:
            x = np.concatenate([x[:1], 0.6 * np.roll(x[:1], 37, axis=1)]).astype(np.float32)
        media = Audio(np.ascontiguousarray(x), media.sample_rate)
    return media


def output_values(media):
    """The decoded media's samples as one array (video: its yuv420 planes, flattened)."""
    import numpy as np

    if media.kind == "image":
        return media.pixels
    if media.kind == "video":
        return np.concatenate([p.reshape(-1) for p in media.to_yuv420().planes])
    return media.samples


def output_digest(media) -> str:
    """md5 of the decoded media's samples (video: its yuv420 planes)."""
    return hashlib.md5(output_values(media).tobytes()).hexdigest()


def latents_digest(data: bytes) -> str:
    """md5 of a learned stream's decoded integer latents (name, shape, values), in name order."""
    import numpy as np

    import ncodec

    h = hashlib.md5()
    for k, v in sorted(ncodec.latents(data).tensors.items()):
        if v.dtype == np.int64:
            h.update(k.encode() + str(v.shape).encode() + v.tobytes())
    return h.hexdigest()


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
    import numpy as np

    import ncodec
    from ncodec.codecs import names

    digests = {}
    (HERE / "outputs").mkdir(exist_ok=True)
    for name in names():
        media = sample(ncodec.codecs.codec_class(name).kind, name)
        codec = ncodec.codecs.get(name, **OPTIONS.get(name, {}))
        data = codec.encode(media, QUALITY.get(name))
        (HERE / f"{name}.ncd").write_bytes(data)
        decoded = ncodec.decode(data)
        digests[name] = {"stream_md5": hashlib.md5(data).hexdigest(), "payload_md5": payload_digest(data, name),
                         "bit_stable": name not in NOT_BIT_STABLE,
                         "output_md5": output_digest(decoded), "options": OPTIONS.get(name, {}),
                         "quality": QUALITY.get(name)}
        if codec.learned:
            digests[name]["latents_md5"] = latents_digest(data)
            np.savez_compressed(HERE / "outputs" / f"{name}.npz", values=output_values(decoded))
        print(name, len(data), digests[name]["stream_md5"], file=sys.stderr)
    (HERE / "digests.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
