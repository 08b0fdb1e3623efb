"""Would finer priors code a NeRV-family stream's weights in fewer bits?

Reads ``.ncd`` streams (``nerv`` / ``hnerv``), takes their quantized weights from the stream's
latents (:func:`ncodec.latents`: entropy decoding only, the integers the decoder gets), and
prints the ideal code length per weight of one zero-inflated Laplace per tensor (what
``weight_prior=zero-inflated`` streams code) against one prior per output channel and per input
channel (16 bits of side information per extra group counted), for every conv / linear weight tensor::

    .venv/bin/python benchmarks/nerv_epochs.py --frames 32 --epochs 150 --save runs/streams
    .venv/bin/python benchmarks/nerv_weight_priors.py runs/streams/*.ncd

``--smoke``: two tiny streams (HNeRV, NeRV) fitted on a few frames of the bundled sample (for tests).
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    import ncodec
    from ncodec.codecs.video import bitstream as wc
    from ncodec.codecs.video.config import INRConfig
    from ncodec.entropy import ZeroInflatedPrior

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="*")
    ap.add_argument("--smoke", action="store_true", help="two tiny streams of the bundled sample (for tests)")
    args = ap.parse_args()
    if args.smoke:
        from nerv_checkpoint import smoke_dir, tiny_stream

        work = smoke_dir()
        for arch in ("hnerv", "nerv"):
            (work / f"{arch}.ncd").write_bytes(tiny_stream(arch))
            args.streams.append(str(work / f"{arch}.ncd"))
    if not args.streams:
        ap.error("no streams given (or --smoke)")
    print("| stream | weights | per tensor (as zero-inflated streams) | per output channel | per input channel |")
    print("|---|---:|---:|---:|---:|")
    for path in args.streams:
        lat = ncodec.latents(path)
        cfg = INRConfig.from_dict(lat.side["config"])
        ints = {k[len("weights."):]: v for k, v in lat.tensors.items() if k.startswith("weights.")}
        prior = ZeroInflatedPrior(wc.max_level(cfg.weight_bits))

        def bits(parts: list[np.ndarray]) -> float:
            return prior.bits(parts, [prior.fit(g) for g in parts]) + 16.0 * (len(parts) - 1)

        n = tensor = out_ch = in_ch = 0.0
        for name in sorted(ints):
            q = ints[name]
            whole = bits([q.reshape(-1)])
            tensor += whole
            n += q.size
            if q.ndim >= 2:
                out_ch += bits([q[i].reshape(-1) for i in range(q.shape[0])])
                in_ch += bits([q[:, i].reshape(-1) for i in range(q.shape[1])])
            else:
                out_ch += whole
                in_ch += whole
        print(f"| {path} | {int(n):,} | {tensor / n:.3f} | {out_ch / n:.3f} | {in_ch / n:.3f} |", flush=True)


if __name__ == "__main__":
    main()
