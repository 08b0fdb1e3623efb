"""Classifiers on codec latents against the same classifier on media: compressed-domain learning, measured.

``--task digits``: spoken digits (the Free Spoken Digit Dataset,
``../shared/data/audio/train_speech/fsdd_<digit>_<speaker>_<n>.wav``, 8 kHz, 6 speakers) from
wavelet-audio latents (entropy-decoded, never synthesised) against the waveform resampled to the
same tensor size, the full waveform and a log-mel spectrogram. Every item is its first
``--seconds`` (zero-padded). Leave one speaker out: train on 5, test on the 6th, over all 6,
``--seeds`` seeds each.

``--task fashion``: Fashion-MNIST (Debian's ``dataset-fashion-mnist``: ``apt-get install
dataset-fashion-mnist`` puts it in /usr/share/datasets/fashion-mnist), the standard 60k / 10k
split, from wavelet-image latents against the pixels resized to the same tensor size and the
full 28 x 28 pixels, ``--seeds`` seeds. The images are written once as PNG files under
``--cache`` (then coded into the cache like any image folder).

The table gives the mean and standard deviation of the test accuracies, the tensor and the coded
bits per item, the classifier's parameters and FLOPs per item (counted by torch) and its training
time per epoch. The classifier is the same for every input: a CNN of the input's dimensionality
(a first convolution fitted to the input's layout, three stride-2 blocks, global average pooling,
a linear layer).

    .venv/bin/python benchmarks/latent_classification.py --task digits --qualities 0,0.5,1 --seeds 3
    .venv/bin/python benchmarks/latent_classification.py --task fashion --qualities 0.5 --seeds 3

Coded streams are cached in ``--cache`` (re-runs reuse them). ``--smoke``: synthetic items and
random tiny codecs, one fold, one epoch, both tasks.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "train_speech"
FASHION = Path("/usr/share/datasets/fashion-mnist")
RATE = 8000


@dataclass
class Inputs:
    name: str
    x: np.ndarray  # items x channels x ...
    bits: float | None = None  # coded bits per item (latents only)


@dataclass
class Task:
    inputs: list[Inputs]
    labels: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]  # (train indexes, test indexes)
    what: str


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[..., :n] if x.shape[-1] >= n else np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])


def coded(files: list[Path], codec, quality: float, cache: Path, **kw) -> Inputs:
    """The latents of ``files`` (coded once into ``cache``) as one array, and their bits per item."""
    from ncodec.learning import LatentDataset

    ds = LatentDataset(files, codec, quality, cache=cache, **kw).prepare()
    return Inputs(f"{ds.codec_name} latents q={quality:g}", np.stack([ds[i].numpy() for i in range(len(ds))]),
                  ds.bits_per_item())


# ---------------------------------------------------------------------- spoken digits
def waveforms(files: list[Path], seconds: float) -> np.ndarray:
    from ncodec.media_io.audio import read_audio

    return np.stack([_fit(read_audio(f, sample_rate=RATE, mono=True).samples[0], round(seconds * RATE)) for f in files])


def resampled(wave: np.ndarray, values: int) -> np.ndarray:
    """The waveforms resampled (swresample) to ``values`` samples over the same duration."""
    from ncodec.media_io.audio import resample

    rate = round(RATE * values / wave.shape[1])
    return np.stack([_fit(resample(w[None], RATE, rate)[0], values) for w in wave])[:, None]


def log_mels(wave: np.ndarray) -> np.ndarray:
    from ncodec.eval.audio_quality import log_mel

    return np.stack([log_mel(w, RATE, 256, bands=64, hop=80).T for w in wave]).astype(np.float32)


def digits_task(files: list[Path], args, options: dict) -> Task:
    from ncodec.codecs import get_learned

    digits = np.array([int(f.stem.split("_")[1]) for f in files])
    speakers = np.array([f.stem.split("_")[2] for f in files])
    model = get_learned("wavelet-audio", **options).model
    frames = round(args.seconds * model.sample_rate / model.frame)
    inputs = [coded(files, "wavelet-audio", q, args.cache / "digits", options=options, read={"mono": True},
                    size=frames, fit="start") for q in args.quality_list]
    wave = waveforms(files, args.seconds)
    values = inputs[-1].x[0].size
    inputs += [Inputs(f"waveform resampled to {values} values", resampled(wave, values)),
               Inputs(f"waveform ({RATE // 1000} kHz)", wave[:, None].astype(np.float32)),
               Inputs("log-mel (64 bands, 10 ms)", log_mels(wave))]
    folds = [(np.flatnonzero(speakers != s), np.flatnonzero(speakers == s)) for s in sorted(set(speakers))]
    return Task(inputs, digits, folds[:1] if args.smoke else folds,
                f"{len(files)} spoken digits, {len(folds)} speakers, first {args.seconds} s; leave one speaker out")


# ---------------------------------------------------------------------- Fashion-MNIST
def _idx(path: Path) -> np.ndarray:
    import gzip

    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_pngs(root: Path, images: np.ndarray, split: str) -> list[Path]:
    """The images as PNG files under ``root/split`` (written once)."""
    from PIL import Image as PILImage

    d = root / split
    d.mkdir(parents=True, exist_ok=True)
    files = [d / f"{i:05d}.png" for i in range(len(images))]
    for f, im in zip(files, images):
        if not f.exists():
            PILImage.fromarray(im).save(f)
    return files


def resized(images: np.ndarray, values: int) -> np.ndarray:
    from PIL import Image as PILImage

    side = max(1, round(values ** 0.5))
    return np.stack([np.asarray(PILImage.fromarray(im).resize((side, side), PILImage.BOX), np.float32) / 255
                     for im in images])[:, None]


def fashion_task(args, weights: Path | None) -> Task:
    from ncodec.codecs.image.codec import WaveletImageCodec  # registered once its weights ship

    codec = WaveletImageCodec(weights=weights)
    if args.smoke:
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(3), 4)
        images = np.clip(rng.normal(60 + 60 * labels[:, None, None], 20, (12, 28, 28)), 0, 255).astype(np.uint8)
        train, test = np.arange(0, 12, 2), np.arange(1, 12, 2)
        files = fashion_pngs(args.cache / "fashion-png", images, "all")
    else:
        if not (args.fashion / "train-images-idx3-ubyte.gz").exists():
            raise SystemExit(f"Fashion-MNIST is not in {args.fashion}: `apt-get install dataset-fashion-mnist` "
                             "(Debian) puts it in /usr/share/datasets/fashion-mnist")
        tr_x, te_x = (_idx(args.fashion / f"{s}-images-idx3-ubyte.gz") for s in ("train", "t10k"))
        tr_y, te_y = (_idx(args.fashion / f"{s}-labels-idx1-ubyte.gz") for s in ("train", "t10k"))
        images, labels = np.concatenate([tr_x, te_x]), np.concatenate([tr_y, te_y]).astype(np.int64)
        train, test = np.arange(len(tr_x)), np.arange(len(tr_x), len(images))
        files = fashion_pngs(args.cache / "fashion-png", tr_x, "train") + \
            fashion_pngs(args.cache / "fashion-png", te_x, "test")
    inputs = [coded(files, codec, q, args.cache / "fashion") for q in args.quality_list]
    values = inputs[-1].x[0].size
    inputs += [Inputs(f"pixels resized to {round(values ** 0.5)}^2", resized(images, values)),
               Inputs("pixels (28 x 28)", images[:, None].astype(np.float32) / 255)]
    return Task(inputs, labels, [(train, test)], f"{len(images)} Fashion-MNIST images, {len(train)} / {len(test)}")


# ---------------------------------------------------------------------- the classifier
def classifier(channels: int, shape: tuple[int, ...], classes: int = 10):
    """The same CNN for every input, 1-D or 2-D by its shape; a long waveform's first layer strides by 8."""
    from torch import nn

    conv, norm = (nn.Conv1d, nn.BatchNorm1d) if len(shape) == 1 else (nn.Conv2d, nn.BatchNorm2d)
    pool = nn.AdaptiveAvgPool1d(1) if len(shape) == 1 else nn.AdaptiveAvgPool2d(1)
    wide = channels == 1 and len(shape) == 1 and shape[0] > 1000
    first = conv(channels, 64, 16 if wide else 3, stride=8 if wide else 1, padding=4 if wide else 1)
    blocks = [nn.Sequential(conv(64, 64, 3, stride=2, padding=1), norm(64), nn.ReLU()) for _ in range(3)]
    return nn.Sequential(first, norm(64), nn.ReLU(), *blocks, pool, nn.Flatten(), nn.Linear(64, classes))


def flops(model, x) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x[:1])
    return counter.get_total_flops()


def train_and_test(x, y, train, test, seed: int, epochs: int, classes: int) -> tuple[float, float]:
    """Test accuracy and training seconds per epoch."""
    import torch

    torch.manual_seed(seed)
    xt = torch.from_numpy(x).float()
    mean, std = xt[train].mean(), xt[train].std().clamp_min(1e-6)  # one scalar normalisation per input
    xt = (xt - mean) / std
    yt = torch.from_numpy(y)
    model = classifier(x.shape[1], x.shape[2:], classes)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=gen).numpy()]
        for i in range(0, len(order), 64):
            b = order[i:i + 64]
            loss = torch.nn.functional.cross_entropy(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    per_epoch = (time.perf_counter() - start) / max(epochs, 1)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xt[test[i:i + 1024]]).argmax(1) for i in range(0, len(test), 1024)])
    return float((pred == yt[test]).float().mean()), per_epoch


def report(task: Task, seeds: int, epochs: int) -> None:
    import torch

    classes = int(task.labels.max()) + 1
    print(f"{task.what}: {len(task.folds)} fold(s) x {seeds} seed(s), {epochs} epochs")
    print("| input | tensor per item | bits per item | accuracy % | params | MFLOPs per item | s per epoch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for inp in task.inputs:
        accs, secs = [], []
        for train, test in task.folds:
            for seed in range(seeds):
                a, s = train_and_test(inp.x, task.labels, train, test, seed, epochs, classes)
                accs.append(100 * a)
                secs.append(s)
        model = classifier(inp.x.shape[1], inp.x.shape[2:], classes)
        n_params = sum(p.numel() for p in model.parameters())
        mflops = flops(model, torch.from_numpy(inp.x[:1]).float()) / 1e6
        bits = f"{inp.bits:.0f}" if inp.bits is not None else "–"
        print(f"| {inp.name} | {' x '.join(map(str, inp.x.shape[1:]))} | {bits} | {np.mean(accs):.1f} ± "
              f"{np.std(accs):.1f} | {n_params:,} | {mflops:.2f} | {np.mean(secs):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["digits", "fashion"], default="digits")
    ap.add_argument("--data", type=Path, default=FSDD, help="digits: the folder of fsdd_*.wav")
    ap.add_argument("--fashion", type=Path, default=FASHION, help="fashion: the folder of the idx files")
    ap.add_argument("--qualities", default="0,0.5,1")
    ap.add_argument("--seconds", type=float, default=0.8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--weights", type=Path, default=None, help="the learned codec's weights (default: shipped)")
    ap.add_argument("--cache", type=Path, default=Path("runs/latent-classification"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    options = {"weights": str(args.weights)} if args.weights else {}
    args.quality_list = [float(q) for q in args.qualities.split(",")]
    if args.smoke:
        _smoke(args)
        return
    if args.task == "digits":
        files = sorted(args.data.glob("fsdd_*.wav"))
        if not files:
            raise SystemExit(f"no FSDD files (fsdd_*.wav) in {args.data}")
        report(digits_task(files, args, options), args.seeds, args.epochs)
    else:
        report(fashion_task(args, args.weights), args.seeds, args.epochs)


def _smoke(args) -> None:
    """Both tasks on synthetic items with random tiny codecs."""
    import tempfile

    import ncodec
    from ncodec.checkpoint import save_weights
    from ncodec.codecs.audio.registry import build_model as audio_model
    from ncodec.codecs.image.registry import build_model as image_model
    from ncodec.codecs.model_state import learned_state
    from ncodec.media_io.audio import write_audio

    root = Path(tempfile.mkdtemp(prefix="ncodec-smoke-"))
    t = np.arange(RATE // 4) / RATE
    files = []
    for d in range(3):
        for spk in ("ann", "bob"):
            for n in range(2):
                files.append(root / f"fsdd_{d}_{spk}_{n}.wav")
                write_audio(ncodec.Audio((0.3 * np.sin(2 * np.pi * (300 + 200 * d) * t)).astype(np.float32)[None],
                                         RATE), files[-1])
    m = audio_model("wavelet", C=16, M=8, N=8)
    save_weights(learned_state(m), root / "a.safetensors", {"config": m.config()})
    m = image_model("wavelet", C=16, N=16, M=12)
    save_weights(m.state_dict(), root / "i.safetensors", {"config": m.config()})
    args.cache, args.seconds, args.quality_list = root / "cache", 0.25, [0.5]
    report(digits_task(files, args, {"weights": str(root / "a.safetensors")}), 1, 1)
    report(fashion_task(args, root / "i.safetensors"), 1, 1)


if __name__ == "__main__":
    main()
