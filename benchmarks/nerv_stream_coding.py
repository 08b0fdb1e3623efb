"""NeRV-family streams under each entropy coding of their integers (issue 6).

For each stream: the weights chunk with the zero-inflated Laplace and the adaptive model,
HNeRV's embeddings coded directly and with temporal prediction (bytes, bits per value, the
predictor coefficients chosen per channel), and the stream's bits per pixel with the newest
codings. With ``--out DIR`` it also writes the stream recoded that way (the same integers,
so the same frames; checked by decoding both)::

    .venv/bin/python benchmarks/nerv_stream_coding.py runs/streams/*.ncd --out runs/recoded
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
    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.config import INRConfig
    from ncodec.codecs.video.rendering import build_decoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="write each stream recoded with the newest codings here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for path in args.streams:
        data = path.read_bytes()
        c = Container.from_bytes(data)
        cfg = INRConfig.from_dict(c.params["config"])
        t, h, w = c.media["shape"]
        pixels = t * h * w
        expected = {k: tuple(v.shape) for k, v in build_decoder(cfg).state_dict().items()}
        per_channel = cfg.weight_quant == "channel"
        wchunks = {p: wc.recode_tensors(c.chunks["weights"], expected, cfg.weight_bits, per_channel, cfg.weight_prior, p)
                   for p in wc.WEIGHT_PRIORS}
        n_w = c.params["weights_count"]
        rec = {"stream": str(path), "frames": t, "file_bytes": len(data), "bpp": round(8 * len(data) / pixels, 5),
               "y_psnr": c.params.get("fit", {}).get("y_psnr"), "weights": n_w,
               "weight_bytes": {p: len(b) for p, b in wchunks.items()},
               "bits_per_weight": {p: round(8 * len(b) / n_w, 3) for p, b in wchunks.items()}}
        chunks = {**c.chunks, "weights": wchunks["adaptive"]}
        new_cfg = dataclasses.replace(cfg, weight_prior="adaptive")
        if cfg.arch == "hnerv":
            shape = (t, cfg.embed_dim, *cfg.grid)
            emb = wc.decode_embeddings(c.chunks["embeddings"], shape, cfg.embed_bits, cfg.embed_coding)
            steps = [wc.step_for(emb[:, k], cfg.embed_bits) for k in range(cfg.embed_dim)]
            q = np.stack([wc.quantize(emb[:, k], s, cfg.embed_bits) for k, s in enumerate(steps)], axis=1)
            if not torch.equal(wc.dequantize_embeddings(q, steps), emb):
                raise SystemExit(f"{path}: embedding steps do not re-derive exactly")
            echunks = {m: wc.encode_embeddings(q, steps, cfg.embed_bits, m) for m in wc.EMBED_CODINGS}
            rec.update({"embedding_values": int(q.size), "embedding_bytes": {m: len(b) for m, b in echunks.items()},
                        "bits_per_embedding": {m: round(8 * len(b) / q.size, 3) for m, b in echunks.items()},
                        "coefficients_of_8": wc.temporal_coefficients(q, cfg.embed_bits)})
            chunks["embeddings"] = echunks["temporal"]
            new_cfg = dataclasses.replace(new_cfg, embed_coding="temporal")
        out = Container(codec=c.codec, codec_version=c.codec_version, media=c.media, chunks=chunks,
                        params={**c.params, "config": new_cfg.to_dict()}, weights=None, quality=c.quality).to_bytes()
        rec.update({"recoded_bytes": len(out), "recoded_bpp": round(8 * len(out) / pixels, 5),
                    "saving": round(1 - len(out) / len(data), 4)})
        if args.out is not None:
            codec = get(c.codec)
            if _planes_md5(codec.decode(out)) != _planes_md5(codec.decode(data)):
                raise SystemExit(f"{path}: the recoded stream decodes differently")
            args.out.mkdir(parents=True, exist_ok=True)
            target = args.out / path.name
            target.write_bytes(out)
            rec.update({"written": str(target), "decodes_identically": True})
        print(json.dumps(rec))


if __name__ == "__main__":
    main()
