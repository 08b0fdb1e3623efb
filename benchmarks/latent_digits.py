"""Spoken digits from codec latents: one small classifier on wavelet-audio latents (entropy-decoded,
never synthesised) against the waveform resampled to the same tensor size, the full waveform and
a log-mel spectrogram.

Data: the Free Spoken Digit Dataset in ``../shared/data/audio/train_speech/fsdd_<digit>_<speaker>_<n>.wav``
(8 kHz, 6 speakers). Every item is the first ``--seconds`` (zero-padded). Leave-one-speaker-out:
train on 5 speakers, test on the 6th, over all 6, ``--seeds`` seeds each; the table gives the mean
and standard deviation of the 6 x seeds test accuracies. The classifier is the same for every input
(a 1-D CNN: a first convolution fitted to the input's layout, three stride-2 blocks, global
average pooling, a linear layer); parameters and FLOPs per item are counted by torch.

    .venv/bin/python benchmarks/latent_digits.py --qualities 0,0.5,1 --seeds 3 --epochs 20

The latents' streams are cached in ``--cache`` (re-runs reuse them). ``--smoke``: synthetic
"digits" (tones) and a random tiny codec, one fold, one epoch.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "train_speech"
RATE = 8000


@dataclass
class Inputs:
    name: str
    x: np.ndarray  # items x channels x length
    bits: float | None = None  # coded bits per item (latents only)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[..., :n] if x.shape[-1] >= n else np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])


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


def latents(files: list[Path], seconds: float, quality: float, cache: Path, options: dict) -> Inputs:
    from ncodec.codecs import get_learned
    from ncodec.learning import LatentDataset

    model = get_learned("wavelet-audio", **options).model
    frames = round(seconds * model.sample_rate / model.frame)
    ds = LatentDataset(files, "wavelet-audio", quality, cache=cache, options=options, read={"mono": True},
                       size=frames, fit="start").prepare()
    return Inputs(f"wavelet-audio latents q={quality:g}", np.stack([ds[i].numpy() for i in range(len(ds))]),
                  ds.bits_per_item())


def classifier(channels: int, length: int, classes: int = 10):
    """The same CNN for every input; a waveform's first layer strides by 8."""
    from torch import nn

    wide = channels == 1 and length > 1000
    first = nn.Conv1d(channels, 64, 16 if wide else 3, stride=8 if wide else 1, padding=4 if wide else 1)
    blocks = [nn.Sequential(nn.Conv1d(64, 64, 3, stride=2, padding=1), nn.BatchNorm1d(64), nn.ReLU()) for _ in range(3)]
    return nn.Sequential(first, nn.BatchNorm1d(64), nn.ReLU(), *blocks, nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                         nn.Linear(64, classes))


def flops(model, x) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x[:1])
    return counter.get_total_flops()


def train_and_test(x, y, train, test, seed: int, epochs: int) -> tuple[float, float]:
    """Test accuracy and training seconds per epoch."""
    import torch

    torch.manual_seed(seed)
    xt = torch.from_numpy(x).float()
    mean, std = xt[train].mean(), xt[train].std().clamp_min(1e-6)  # one scalar normalisation per input
    xt = (xt - mean) / std
    yt = torch.from_numpy(y)
    model = classifier(x.shape[1], x.shape[2])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=gen).numpy()]
        for i in range(0, len(order), 32):
            b = order[i:i + 32]
            loss = torch.nn.functional.cross_entropy(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    per_epoch = (time.perf_counter() - start) / max(epochs, 1)
    model.eval()
    with torch.no_grad():
        acc = float((model(xt[test]).argmax(1) == yt[test]).float().mean())
    return acc, per_epoch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=FSDD)
    ap.add_argument("--qualities", default="0,0.5,1")
    ap.add_argument("--seconds", type=float, default=0.8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--weights", type=Path, default=None, help="wavelet-audio weights (default: shipped)")
    ap.add_argument("--cache", type=Path, default=Path("runs/latents-fsdd"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    options = {"weights": str(args.weights)} if args.weights else {}
    if args.smoke:
        files, options = _smoke_data(args)
    else:
        files = sorted(args.data.glob("fsdd_*.wav"))
        if not files:
            raise SystemExit(f"no FSDD files (fsdd_*.wav) in {args.data}")
    digits = np.array([int(f.stem.split("_")[1]) for f in files])
    speakers = np.array([f.stem.split("_")[2] for f in files])
    wave = waveforms(files, args.seconds)
    qualities = [float(q) for q in args.qualities.split(",")]
    inputs = [latents(files, args.seconds, q, args.cache, options) for q in qualities]
    values = inputs[-1].x[0].size
    inputs += [Inputs(f"waveform resampled to {values} values", resampled(wave, values)),
               Inputs(f"waveform ({RATE // 1000} kHz)", wave[:, None].astype(np.float32)),
               Inputs("log-mel (64 bands, 10 ms)", log_mels(wave))]
    folds = sorted(set(speakers))[: 1 if args.smoke else None]
    print(f"{len(files)} items, {len(set(speakers))} speakers, first {args.seconds} s; leave one speaker out over "
          f"{len(folds)} folds x {args.seeds} seeds, {args.epochs} epochs")
    print("| input | tensor per item | bits per item | accuracy % | params | MFLOPs per item | s per epoch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for inp in inputs:
        accs, secs = [], []
        for spk in folds:
            train, test = np.flatnonzero(speakers != spk), np.flatnonzero(speakers == spk)
            for seed in range(args.seeds):
                a, s = train_and_test(inp.x, digits, train, test, seed, args.epochs)
                accs.append(100 * a)
                secs.append(s)
        model = classifier(inp.x.shape[1], inp.x.shape[2])
        n_params = sum(p.numel() for p in model.parameters())
        mflops = flops(model, torch.from_numpy(inp.x[:1]).float()) / 1e6
        bits = f"{inp.bits:.0f}" if inp.bits is not None else "–"
        print(f"| {inp.name} | {' x '.join(map(str, inp.x.shape[1:]))} | {bits} | {np.mean(accs):.1f} ± "
              f"{np.std(accs):.1f} | {n_params:,} | {mflops:.2f} | {np.mean(secs):.2f} |")


def _smoke_data(args) -> tuple[list[Path], dict]:
    """Tones as 'digits' from two 'speakers', and a random tiny wavelet-audio model."""
    import tempfile

    import ncodec
    from ncodec.checkpoint import save_weights
    from ncodec.codecs.audio.registry import build_model
    from ncodec.codecs.model_state import learned_state
    from ncodec.media_io.audio import write_audio

    root = Path(tempfile.mkdtemp(prefix="ncodec-smoke-"))
    t = np.arange(RATE // 4) / RATE
    files = []
    for d in range(3):
        for spk in ("ann", "bob"):
            for n in range(2):
                f = root / f"fsdd_{d}_{spk}_{n}.wav"
                write_audio(ncodec.Audio((0.3 * np.sin(2 * np.pi * (300 + 200 * d) * t)).astype(np.float32)[None],
                                         RATE), f)
                files.append(f)
    m = build_model("wavelet", C=16, M=8, N=8)
    save_weights(learned_state(m), root / "w.safetensors", {"config": m.config()})
    args.cache, args.seeds, args.epochs, args.seconds, args.qualities = root / "cache", 1, 1, 0.25, "0.5"
    return files, {"weights": str(root / "w.safetensors")}


if __name__ == "__main__":
    main()
