"""How many latent channels a learned image codec actually uses, per quality.

A channel is *live* at quality ``q`` when at least 1 % of its rounded latents
``round(g_a(x) gain(q))`` are non-zero on an image; the table gives the mean count over the
images, and the channels that are never live on any image at any quality (*dead*: their gain
collapsed during training, so they carry no bits and no information). When nearly every live
channel is busy at the top quality, the latent width M, not the training, caps the curve::

    .venv/bin/python benchmarks/latent_channels.py ncodec/weights/checkerboard.safetensors \\
        --images ../shared/data/images/kodak --qualities 0,0.5,1

``--smoke``: the shipped weights of ``--arch`` on the bundled sample image (for tests).
"""

from __future__ import annotations

import torch


def main() -> None:
    from transform_ceiling import image_model_args, load_image

    from ncodec.codecs.image.codec import load_model

    args, files, qualities = image_model_args(__doc__.split("\n")[0])
    print(f"{len(files)} images from {args.images}")
    print("| weights | M | q | live channels (mean over images) | busy (>= 10 % non-zero) | dead everywhere |")
    print("|---|---:|---:|---:|---:|---:|")
    for w in args.weights:
        model = load_model(args.arch, w)
        live = {q: [] for q in qualities}
        busy = {q: [] for q in qualities}
        ever = None
        for f in files:
            _, x = load_image(f)
            with torch.no_grad():
                y = model.g_a(x)
                for q in qualities:
                    nonzero = (torch.round(y * model.gain.gain(torch.tensor([q]))) != 0).float().mean((0, 2, 3))
                    live[q].append(int((nonzero >= 0.01).sum()))
                    busy[q].append(int((nonzero >= 0.10).sum()))
                    ever = nonzero >= 0.01 if ever is None else ever | (nonzero >= 0.01)
        M = y.shape[1]
        dead = M - int(ever.sum())
        for q in qualities:
            print(f"| {w.name} | {M} | {q:g} | {sum(live[q]) / len(files):.1f} | {sum(busy[q]) / len(files):.1f} | {dead} |")


if __name__ == "__main__":
    main()
