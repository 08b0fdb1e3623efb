"""Decoding across CPUs: learned streams decoded with other float32 kernels than they were made with.

Each learned codec encodes the bundled sample of its kind here (the machine's default kernels);
the streams are then decoded in fresh processes whose torch and oneDNN are held to older
instruction sets (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``: AVX2, then no AVX at all),
which round float32 sums differently, as another machine would. The table gives, per codec and
kernel set, whether the decoded integer latents are identical (the entropy decoding stayed in
step) and how many output values differ from this process's decode, by how much.

    .venv/bin/python benchmarks/cross_cpu_decode.py

``--smoke``: one codec, one other kernel set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

KERNELS = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
           "no-avx": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}}
GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"

_DECODE = """
import sys, json, numpy as np
sys.path.insert(0, sys.argv[1])
import generate, ncodec
out = {}
for path in sys.argv[3:]:
    data = open(path, "rb").read()
    np.save(path + "." + sys.argv[2] + ".npy", generate.output_values(ncodec.decode(data)))
    out[path] = generate.latents_digest(data)
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codecs", default="factorized,hyperprior,mean-scale,checkerboard,wavelet-audio,rvq-audio")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(GOLDEN))
    import generate

    import ncodec
    from ncodec.codecs import codec_class, get

    names, kernels = args.codecs.split(","), dict(KERNELS)
    if args.smoke:
        names, kernels = ["factorized"], {"no-avx": KERNELS["no-avx"]}
    work = Path(tempfile.mkdtemp(prefix="ncodec-xcpu-"))
    streams = {}
    for n in names:
        if not codec_class(n).learned:
            continue
        data = get(n).encode(generate.sample(codec_class(n).kind))
        path = work / f"{n}.ncd"
        path.write_bytes(data)
        streams[n] = (str(path), generate.latents_digest(data), generate.output_values(ncodec.decode(data)))
    print(f"{len(streams)} learned codecs, streams encoded with this machine's default kernels; "
          f"CPU capability here: {_capability()}")
    print("| codec | decoded with | latents identical | output values differing | largest difference |")
    print("|---|---|---|---:|---:|")
    for label, env in kernels.items():
        run = subprocess.run([sys.executable, "-c", _DECODE, str(GOLDEN), label, *(s[0] for s in streams.values())],
                             env={**os.environ, **env}, check=True, capture_output=True, text=True)
        digests = json.loads(run.stdout.splitlines()[-1])
        for n, (path, lat, ref) in streams.items():
            got = np.load(f"{path}.{label}.npy")
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
            print(f"| {n} | {label} | {'yes' if digests[path] == lat else 'NO'} | "
                  f"{int((diff > 0).sum()):,} of {diff.size:,} | {diff.max():.3g} |")


def _capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


if __name__ == "__main__":
    main()
