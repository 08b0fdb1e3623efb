"""HNeRV streams: their embeddings coded directly vs with temporal prediction (issue 6).

For each stream, decodes the embedding integers, codes them both ways, and prints the chunk
sizes, bits per embedding value, the predictor coefficients chosen per channel and the
stream's bits per pixel each way. With ``--out DIR`` it also writes the stream with the other
embedding coding (same weights, same integers) and checks that it decodes to identical frames::

    .venv/bin/python benchmarks/nerv_embedding_coding.py runs/streams/*.ncd --out runs/transcoded
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np


def _planes_md5(video) -> str:
    return hashlib.md5(b"".join(p.tobytes() for p in video.to_yuv420().planes)).hexdigest()


def main() -> None:
    import torch

    from ncodec.codecs import get
    from ncodec.container import Container
    from ncodec.inr import weight_coding as wc
    from ncodec.inr.config import INRConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="write each stream with the other embedding coding here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for path in args.streams:
        data = path.read_bytes()
        c = Container.from_bytes(data)
        cfg = INRConfig.from_dict(c.params["config"])
        if cfg.arch != "hnerv":
            print(json.dumps({"stream": str(path), "skipped": "not HNeRV"}))
            continue
        t, h, w = c.media["shape"]
        shape = (t, cfg.embed_dim, *cfg.grid)
        emb = wc.decode_embeddings(c.chunks["embeddings"], shape, cfg.embed_bits, cfg.embed_coding)
        steps = [wc.step_for(emb[:, k], cfg.embed_bits) for k in range(cfg.embed_dim)]
        q = np.stack([wc.quantize(emb[:, k], s, cfg.embed_bits) for k, s in enumerate(steps)], axis=1)
        if not torch.equal(wc.dequantize_embeddings(q, steps), emb):
            raise SystemExit(f"{path}: embedding steps do not re-derive exactly")
        sizes = {m: len(wc.encode_embeddings(q, steps, cfg.embed_bits, m)) for m in wc.EMBED_CODINGS}
        coeffs = wc._temporal_plan(q, cfg.embed_bits)[0].tolist()
        other = "temporal" if cfg.embed_coding == "direct" else "direct"
        pixels = t * h * w
        rec = {"stream": str(path), "frames": t, "embedding_values": int(q.size), "coding_in_stream": cfg.embed_coding,
               "bytes": sizes, "bits_per_value": {m: round(8 * b / q.size, 3) for m, b in sizes.items()},
               "coefficients_of_8": coeffs, "file_bytes": len(data), "bpp": round(8 * len(data) / pixels, 5),
               "bpp_" + other: round(8 * (len(data) - sizes[cfg.embed_coding] + sizes[other]) / pixels, 5),
               "y_psnr": c.params.get("fit", {}).get("y_psnr")}
        if args.out is not None:
            new_cfg = dataclasses.replace(cfg, embed_coding=other)
            chunks = {**c.chunks, "embeddings": wc.encode_embeddings(q, steps, cfg.embed_bits, other)}
            params = {**c.params, "config": new_cfg.to_dict()}
            out = Container(codec=c.codec, codec_version=c.codec_version, media=c.media, chunks=chunks,
                            params=params, weights=None, quality=c.quality).to_bytes()
            codec = get(c.codec)
            same = _planes_md5(codec.decode(out)) == _planes_md5(codec.decode(data))
            if not same:
                raise SystemExit(f"{path}: the transcoded stream decodes differently")
            args.out.mkdir(parents=True, exist_ok=True)
            target = args.out / f"{path.stem}.{other}.ncd"
            target.write_bytes(out)
            rec.update({"written": str(target), "written_bytes": len(out), "written_bpp": round(8 * len(out) / pixels, 5),
                        "decodes_identically": same})
        print(json.dumps(rec))


if __name__ == "__main__":
    main()
