"""How close the NeRV-family weight coding is to what a better model of the same integers could give.

Reads a stream, recovers the integer weight codes (its latents, :func:`ncodec.latents`), and
compares per tensor: the ideal coded size under the zero-inflated Laplace fitted per tensor and
under the adaptive model (the two weight priors streams use), the empirical entropy of the codes
(the ideal i.i.d. code per tensor, parameters for free), and the fitted model and the entropy
per output channel (3 bytes of parameters per channel for the fitted model)::

    .venv/bin/python benchmarks/nerv_weight_entropy.py STREAM.ncd

``--smoke``: a tiny HNeRV stream fitted on a few frames of the bundled sample (for tests).
"""

from __future__ import annotations

import argparse

import numpy as np


def entropy_bits(x: np.ndarray) -> float:
    _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def main() -> None:
    import ncodec
    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.config import INRConfig
    from ncodec.container import Container
    from ncodec.entropy import AdaptiveModel, ZeroInflatedPrior

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stream", nargs="?")
    ap.add_argument("--show-min", type=int, default=5000, help="list tensors with at least this many weights")
    ap.add_argument("--smoke", action="store_true", help="a tiny stream of the bundled sample (for tests)")
    args = ap.parse_args()
    if args.smoke:
        from nerv_checkpoint import smoke_dir, tiny_stream

        args.stream, args.show_min = smoke_dir() / "hnerv.ncd", 1000
        args.stream.write_bytes(tiny_stream("hnerv"))
    if args.stream is None:
        ap.error("no stream given (or --smoke)")
    data = open(args.stream, "rb").read()
    lat = ncodec.latents(data)
    cfg = INRConfig.from_dict(lat.side["config"])
    ints = {k[len("weights."):]: v for k, v in lat.tensors.items() if k.startswith("weights.")}
    k = wc.max_level(cfg.weight_bits)
    prior, adaptive = ZeroInflatedPrior(k), AdaptiveModel(-k, k)
    total = {"zero-inflated": 0.0, "adaptive": 0.0, "entropy": 0.0, "zero-inflated per channel": 0.0,
             "entropy per channel": 0.0}
    count = 0
    chunk = len(Container.from_bytes(data).chunks["weights"])
    print(f"{args.stream}: weights chunk {chunk:,} B ({cfg.weight_bits}-bit, {cfg.weight_quant}, {cfg.weight_prior})")
    print("| tensor | weights | zeros | zero-inflated b/w | adaptive b/w | entropy b/w | zero-inflated per channel b/w "
          "| entropy per channel b/w |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted(ints):
        q = ints[n]
        g = q.reshape(-1)
        coded, adapt, ent = prior.bits([g], [prior.fit(g)]), float(adaptive.bits(g)), entropy_bits(g)
        if q.ndim >= 2:
            rows = q.reshape(q.shape[0], -1)
            coded_ch = sum(prior.bits([r], [prior.fit(r)]) + 24 for r in rows)
            ent_ch = sum(entropy_bits(r) for r in rows)
        else:
            coded_ch, ent_ch = coded, ent
        for key, v in zip(total, (coded, adapt, ent, coded_ch, ent_ch)):
            total[key] += v
        count += g.size
        if g.size >= args.show_min:
            print(f"| {n} | {g.size:,} | {np.mean(g == 0):.2f} | {coded / g.size:.3f} | {adapt / g.size:.3f} | "
                  f"{ent / g.size:.3f} | {coded_ch / g.size:.3f} | {ent_ch / g.size:.3f} |")
    print(f"| all {len(ints)} tensors | {count:,} | | " + " | ".join(f"{v / count:.3f}" for v in total.values()) + " |")
    print("bytes: " + ", ".join(f"{key} {v / 8:,.0f}" for key, v in total.items()))


if __name__ == "__main__":
    main()
