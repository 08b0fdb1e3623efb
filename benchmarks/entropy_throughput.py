"""Entropy-coder throughput and size overhead on 1 M Gaussian-conditional symbols.

Three coders, same symbols, same run:

* ``ncodec ans`` / ``ncodec range`` -- :class:`ncodec.entropy.ConditionalPrior` (scale and
  mean snapped to integer tables, grouped coding), end to end from float parameters;
* ``constriction`` -- raw constriction ANS with its ``QuantizedGaussian`` family and
  per-symbol (mean, std), the anchor;
* ``compressai rANS`` -- compressai's ``GaussianConditional`` with its built-in coder
  (64-level scale table, 16-bit tables, mean subtracted).

Prints Msym/s for encode and decode (median of ``--repeat`` runs), the ratio to the
constriction anchor, and the size overhead against the ideal ``-sum log2 p`` of the exact
continuous model. Usage: ``python benchmarks/entropy_throughput.py [--n 1000000] [--smoke]``
(``--smoke``: 20,000 symbols, one run, for tests).
"""

from __future__ import annotations

import argparse
import statistics
import time

import constriction
import numpy as np
import torch

from ncodec.entropy import ConditionalPrior, Decoder, Encoder


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="20,000 symbols, one run (for tests)")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.repeat = 20_000, 1
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = args.n
    scales = np.exp(rng.uniform(np.log(0.2), np.log(30), n)).astype(np.float32)
    means = rng.normal(0, 5, n).astype(np.float32)
    x = np.rint(rng.normal(means, scales)).astype(np.int64)
    prior = ConditionalPrior("gaussian")
    ideal_bytes = prior.exact_bits(x, scales, means) / 8
    rows = []

    # ncodec, both coders (tables are built once per prior and reused, as in a codec)
    for coder in ("ans", "range"):
        def enc_fn():
            e = Encoder(coder)
            prior.encode(e, x, scales, means)
            return e.finish()
        enc_fn()  # warm the lazily built tables
        te, data = timed(enc_fn, args.repeat)
        td, out = timed(lambda: prior.decode(Decoder(data, coder), scales, means), args.repeat)
        assert np.array_equal(out, x)
        rows.append((f"ncodec {coder}", te, td, len(data)))

    # raw constriction: QuantizedGaussian with per-symbol parameters
    lo, hi = int(x.min()) - 1, int(x.max()) + 1
    fam = constriction.stream.model.QuantizedGaussian(lo, hi)
    m64, s64, x32 = means.astype(np.float64), scales.astype(np.float64), x.astype(np.int32)

    def c_enc():
        c = constriction.stream.stack.AnsCoder()
        c.encode_reverse(x32, fam, m64, s64)
        return c.get_compressed()
    te, words = timed(c_enc, args.repeat)
    td, out = timed(lambda: constriction.stream.stack.AnsCoder(words).decode(fam, m64, s64), args.repeat)
    assert np.array_equal(out, x32)
    rows.append(("constriction (raw)", te, td, words.nbytes))

    # compressai's rANS through GaussianConditional
    from compressai.entropy_models import GaussianConditional
    from compressai.models.google import get_scale_table

    gc = GaussianConditional(None)
    gc.update_scale_table(get_scale_table())
    gc.update()
    y = torch.from_numpy(x.astype(np.float32)).view(1, 1, -1)
    sc = torch.from_numpy(scales).view(1, 1, -1)
    mu = torch.from_numpy(means).view(1, 1, -1)
    idx = gc.build_indexes(sc)
    te, strings = timed(lambda: gc.compress(y, idx, means=mu), args.repeat)
    td, out = timed(lambda: gc.decompress(strings, idx, means=mu), args.repeat)
    ok = torch.equal(torch.round(out - mu), torch.round(y - mu))
    rows.append(("compressai rANS" + ("" if ok else " (lossy!)"), te, td, len(strings[0])))

    anchor = rows[2]
    print(f"{n:,} Gaussian-conditional symbols, scales log-uniform in [0.2, 30], means N(0, 5^2); "
          f"ideal {ideal_bytes:,.0f} bytes; median of {args.repeat} runs, 1 thread")
    print("| coder | encode Msym/s | decode Msym/s | encode vs constriction | decode vs constriction | "
          "bytes | overhead vs ideal |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, te, td, size in rows:
        print(f"| {name} | {n / te / 1e6:.1f} | {n / td / 1e6:.1f} | {anchor[1] / te:.2f}x | {anchor[2] / td:.2f}x | "
              f"{size:,} | {100 * (size / ideal_bytes - 1):+.3f} % |")


if __name__ == "__main__":
    main()
