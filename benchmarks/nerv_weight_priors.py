"""Would finer priors code a NeRV-family stream's weights in fewer bits?

Reads ``.ncd`` streams (``nerv`` / ``hnerv``), decodes the quantized weights exactly as the
decoder does, and prints the ideal code length per weight of the shipped scheme (one
zero-inflated Laplace per tensor) against one prior per output channel and per input channel
(16 bits of side information per extra group counted), for every conv / linear weight tensor::

    .venv/bin/python benchmarks/nerv_epochs.py --frames 32 --epochs 150 --save runs/streams
    .venv/bin/python benchmarks/nerv_weight_priors.py runs/streams/*.ncd
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def main() -> None:
    from ncodec.container import Container
    from ncodec.entropy import ZeroInflatedPrior
    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.config import INRConfig
    from ncodec.codecs.video.rendering import build_decoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="+")
    args = ap.parse_args()
    print("| stream | weights | per tensor (shipped) | per output channel | per input channel |")
    print("|---|---:|---:|---:|---:|")
    for path in args.streams:
        c = Container.from_bytes(open(path, "rb").read())
        cfg = INRConfig.from_dict(c.params["config"])
        shapes = {k: tuple(v.shape) for k, v in build_decoder(cfg).state_dict().items()}
        names = sorted(shapes)
        groups, _ = wc._decode_groups(c.chunks["weights"], [math.prod(shapes[n]) for n in names], cfg.weight_bits)
        prior = ZeroInflatedPrior(wc.max_level(cfg.weight_bits))

        def bits(parts: list[np.ndarray]) -> float:
            return prior.bits(parts, [prior.fit(g) for g in parts]) + 16.0 * (len(parts) - 1)

        n = tensor = out_ch = in_ch = 0.0
        for name, g in zip(names, groups):
            q = g.reshape(shapes[name])
            whole = bits([g])
            tensor += whole
            n += g.size
            if q.ndim >= 2:
                out_ch += bits([q[i].reshape(-1) for i in range(q.shape[0])])
                in_ch += bits([q[:, i].reshape(-1) for i in range(q.shape[1])])
            else:
                out_ch += whole
                in_ch += whole
        print(f"| {path} | {int(n):,} | {tensor / n:.3f} | {out_ch / n:.3f} | {in_ch / n:.3f} |", flush=True)


if __name__ == "__main__":
    main()
