"""NeRV-family streams under each entropy coding of their integers (issue 6).

For each stream: the weights chunk with the zero-inflated Laplace and the adaptive model,
HNeRV's embeddings coded directly and with temporal prediction (bytes, bits per value, the
predictor coefficients chosen per channel), and the stream's bits per pixel with the newest
codings. With ``--out DIR`` it also writes the stream recoded that way (the same integers,
so the same frames; checked by decoding both)::

    .venv/bin/python benchmarks/nerv_stream_coding.py runs/streams/*.ncd --out runs/recoded

The integers come from the stream's latents (:func:`ncodec.latents`, entropy decoding only) and
are re-coded with :mod:`ncodec.codecs.video.bitstream`'s public coders; the recoded stream is the
codec's ``to_chunks`` of the same latents under the new config. ``--smoke``: two tiny streams
(HNeRV with the oldest codings, NeRV) fitted on a few frames of the bundled sample, recoded into
a temporary folder (for tests).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from pathlib import Path


def _planes_md5(video) -> str:
    return hashlib.md5(b"".join(p.tobytes() for p in video.to_yuv420().planes)).hexdigest()


def temporal_coefficients(chunk: bytes, channels: int) -> list[int]:
    """The predictor coefficient (of 8) of every channel in a ``temporal`` embeddings chunk, read
    from its layout (:mod:`ncodec.codecs.video.bitstream`): ``u32`` group count, 7 bytes per group,
    then one ``u8`` per channel."""
    head = 4 + 7 * channels
    if len(chunk) < head + channels or int.from_bytes(chunk[:4], "little") != channels:
        raise SystemExit(f"not a temporal embeddings chunk of {channels} channels")
    return list(chunk[head:head + channels])


def smoke_streams() -> tuple[list[Path], Path]:
    from nerv_checkpoint import smoke_dir, tiny_stream

    work = smoke_dir()
    paths = [work / "hnerv-oldest.ncd", work / "nerv.ncd"]
    paths[0].write_bytes(tiny_stream("hnerv", weight_prior="zero-inflated", embed_coding="direct"))
    paths[1].write_bytes(tiny_stream("nerv"))
    return paths, work / "recoded"


def main() -> None:
    import torch

    from ncodec.codecs import get
    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.config import INRConfig
    from ncodec.container import Container

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="write each stream recoded with the newest codings here")
    ap.add_argument("--smoke", action="store_true", help="two tiny streams of the bundled sample (for tests)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.streams, args.out = smoke_streams()
    if not args.streams:
        ap.error("no streams given (or --smoke)")
    for path in args.streams:
        data = path.read_bytes()
        c = Container.from_bytes(data)
        codec = get(c.codec)
        lat = codec.latents(c)
        cfg = INRConfig.from_dict(lat.side["config"])
        t, h, w = c.media["shape"]
        pixels = t * h * w
        ints = {k[len("weights."):]: v for k, v in lat.tensors.items() if k.startswith("weights.")}
        codes, extra = lat.side["weight_steps"], bytes(lat.side["channel_steps"])
        wchunks = {p: wc.weights_to_chunk(ints, codes, extra, cfg.weight_bits, p) for p in wc.WEIGHT_PRIORS}
        n_w = sum(v.size for v in ints.values())
        rec = {"stream": str(path), "frames": t, "file_bytes": len(data), "bpp": round(8 * len(data) / pixels, 5),
               "y_psnr": c.params.get("fit", {}).get("y_psnr"), "weights": n_w,
               "weight_bytes": {p: len(b) for p, b in wchunks.items()},
               "bits_per_weight": {p: round(8 * len(b) / n_w, 3) for p, b in wchunks.items()}}
        new_cfg = dataclasses.replace(cfg, weight_prior="adaptive")
        if "embeddings" in lat.tensors:
            q, steps = lat.tensors["embeddings"], lat.side["embedding_steps"]
            echunks = {m: wc.encode_embeddings(q, steps, cfg.embed_bits, m) for m in wc.EMBED_CODINGS}
            rec.update({"embedding_values": int(q.size), "embedding_bytes": {m: len(b) for m, b in echunks.items()},
                        "bits_per_embedding": {m: round(8 * len(b) / q.size, 3) for m, b in echunks.items()},
                        "coefficients_of_8": temporal_coefficients(echunks["temporal"], q.shape[1])})
            new_cfg = dataclasses.replace(new_cfg, embed_coding="temporal")
        chunks, params = codec.to_chunks(dataclasses.replace(lat, side={**lat.side, "config": new_cfg.to_dict()}))
        if chunks["weights"] != wchunks["adaptive"]:
            raise SystemExit(f"{path}: the codec codes the weights differently from weights_to_chunk")
        out = Container(codec=c.codec, codec_version=c.codec_version, media=c.media, chunks=chunks,
                        params={**c.params, **params}, weights=c.weights, quality=c.quality).to_bytes()
        rec.update({"recoded_bytes": len(out), "recoded_bpp": round(8 * len(out) / pixels, 5),
                    "saving": round(1 - len(out) / len(data), 4)})
        if args.out is not None:
            if _planes_md5(codec.decode(out)) != _planes_md5(codec.decode(data)):
                raise SystemExit(f"{path}: the recoded stream decodes differently")
            args.out.mkdir(parents=True, exist_ok=True)
            target = args.out / path.name
            target.write_bytes(out)
            rec.update({"written": str(target), "decodes_identically": True})
        print(json.dumps(rec))


if __name__ == "__main__":
    main()
