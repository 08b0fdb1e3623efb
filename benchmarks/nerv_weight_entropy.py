"""How close the NeRV-family weight coding is to what a better model of the same integers could give.

Reads a stream, recovers the integer weight codes, and compares per tensor: the coded size
(the zero-inflated Laplace fitted per tensor, as shipped), the empirical entropy of the codes
(the ideal i.i.d. code per tensor, parameters for free), and the same two per output channel
(3 bytes of parameters per channel for the fitted model)::

    .venv/bin/python benchmarks/nerv_weight_entropy.py STREAM.ncd
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def entropy_bits(x: np.ndarray) -> float:
    _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def main() -> None:
    from ncodec.container import Container
    from ncodec.entropy import ZeroInflatedPrior
    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.config import INRConfig
    from ncodec.codecs.video.rendering import build_decoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stream")
    ap.add_argument("--show-min", type=int, default=5000, help="list tensors with at least this many weights")
    args = ap.parse_args()
    c = Container.from_bytes(open(args.stream, "rb").read())
    cfg = INRConfig.from_dict(c.params["config"])
    shapes = {k: tuple(v.shape) for k, v in build_decoder(cfg).state_dict().items()}
    names = sorted(shapes)
    per_channel = cfg.weight_quant == "channel"
    n_codes = sum(shapes[n][0] for n in names if len(shapes[n]) >= 2) if per_channel else 0
    data = c.chunks["weights"]
    groups, _, _ = wc._decode_groups(data, [math.prod(shapes[n]) for n in names], cfg.weight_bits, extra=n_codes)
    prior = ZeroInflatedPrior(wc.max_level(cfg.weight_bits))
    total = {"coded": 0.0, "entropy": 0.0, "coded_ch": 0.0, "entropy_ch": 0.0}
    count = 0
    print(f"{args.stream}: weights chunk {len(data):,} B ({cfg.weight_bits}-bit, {cfg.weight_quant})")
    print("| tensor | weights | zeros | coded b/w | entropy b/w | coded per channel b/w | entropy per channel b/w |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, g in zip(names, groups):
        s = shapes[n]
        coded, ent = prior.bits([g], [prior.fit(g)]), entropy_bits(g)
        if len(s) >= 2:
            rows = g.reshape(s[0], -1)
            coded_ch = sum(prior.bits([r], [prior.fit(r)]) + 24 for r in rows)
            ent_ch = sum(entropy_bits(r) for r in rows)
        else:
            coded_ch, ent_ch = coded, ent
        for k, v in zip(total, (coded, ent, coded_ch, ent_ch)):
            total[k] += v
        count += g.size
        if g.size >= args.show_min:
            print(f"| {n} | {g.size:,} | {np.mean(g == 0):.2f} | {coded / g.size:.3f} | {ent / g.size:.3f} | "
                  f"{coded_ch / g.size:.3f} | {ent_ch / g.size:.3f} |")
    print(f"| all {len(names)} tensors | {count:,} | | " + " | ".join(f"{v / count:.3f}" for v in total.values()) + " |")
    print("bytes: " + ", ".join(f"{k} {v / 8:,.0f}" for k, v in total.items()))


if __name__ == "__main__":
    main()
