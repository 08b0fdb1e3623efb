"""Training audio for learned audio codecs: decoded once into memory, served as random crops.

Files are read mono at the model's sample rate, or with ``channels="mid-side"`` (for codecs
that code stereo as mid/side) each stereo file gives its mid ``(L + R) / 2`` and, when the side
``(L - R) / 2`` is no more than 20 dB below the mid (RMS), the side too: the losses are
relative to a clip's own level, so a near-silent side clip would teach the model to spend bits
on what nobody hears; a quiet side met when coding goes to few, small latents. Files recorded below it (the 8 kHz spoken
digits of ``train_speech``) are left out rather than upsampled: an upsampled narrow-band clip
would teach the codec that speech has nothing above 4 kHz. The shared data's dev folders
(``audio/speech``, ``audio/music``, ``audio/sounds``) are refused: results are reported on them.

Crops of ``crop`` samples start anywhere in a file drawn with probability proportional to its
length; each is scaled by a random gain (``gain_db`` range, clipped to [-1, 1]) and flipped in
polarity half the time. Sampling uses a numpy ``Generator`` whose state checkpoints save.

:func:`speaker_split` is the fixed speaker-disjoint split of a training folder named
``<source>_<speaker>_<id>.<ext>`` (``train_speech_wb``): a speaker is held out when the first
byte of the SHA-256 of its ``<source>_<speaker>`` label is below 26 (about 10 %).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ncodec.errors import NcodecError
from ncodec.media_io.audio import AUDIO_READ_EXTS, read_audio, resample

DEV_FOLDERS = {("audio", "speech"), ("audio", "music"), ("audio", "sounds")}
HELD_OUT_BELOW = 26


def audio_files(dirs: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        d = Path(d)
        if tuple(d.resolve().parts[-2:]) in DEV_FOLDERS:
            raise NcodecError(f"{d}: a dev set, kept for results; never train on it")
        if not d.exists():
            raise NcodecError(f"training data {d} does not exist")
        files.extend([d] if d.is_file() else sorted(p for p in d.rglob("*") if p.suffix.lower() in AUDIO_READ_EXTS))
    if not files:
        raise NcodecError("no training audio found")
    return files


def speaker_of(path: Path) -> str:
    """``librispeech_1234_5678-0001.flac`` -> ``librispeech_1234`` (source and speaker)."""
    parts = Path(path).stem.split("_")
    return "_".join(parts[:2]) if len(parts) >= 3 else Path(path).stem


def is_held_out(speaker: str) -> bool:
    return hashlib.sha256(speaker.encode()).digest()[0] < HELD_OUT_BELOW


def speaker_split(files: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """``(training files, held-out files)``: no speaker is on both sides."""
    train = [f for f in files if not is_held_out(speaker_of(f))]
    held = [f for f in files if is_held_out(speaker_of(f))]
    return train, held


CHANNELS = ("mono", "mid-side")
SIDE_FLOOR = 0.1  # side clips at least -20 dB (RMS) against their mid


def load_clips(files: Sequence[Path], sample_rate: int, min_length: int, progress: bool = True,
               channels: str = "mono") -> list[np.ndarray]:
    """Float32 clips at ``sample_rate`` (``channels``: see the module docstring); files recorded at
    a lower rate or shorter than ``min_length`` samples are skipped."""
    if channels not in CHANNELS:
        raise NcodecError(f"unknown training channel mode {channels!r}; choose one of {', '.join(CHANNELS)}")
    clips = []
    for f in tqdm(files, desc="loading audio", disable=not progress, unit="file"):
        a = read_audio(f, mono=channels == "mono")
        if a.sample_rate < sample_rate:
            continue
        s = a.samples
        if channels == "mid-side" and s.shape[0] == 2:
            mid, side = (s[0] + s[1]) * 0.5, (s[0] - s[1]) * 0.5
            loud = np.sqrt(np.mean(side ** 2)) >= SIDE_FLOOR * np.sqrt(np.mean(mid ** 2))
            s = np.stack([mid, side]) if loud else mid[None]
        elif s.shape[0] > 1:
            s = s.mean(axis=0, keepdims=True)
        for x in resample(s, a.sample_rate, sample_rate):
            if len(x) >= min_length:
                clips.append(np.ascontiguousarray(x, dtype=np.float32))
    if not clips:
        raise NcodecError(f"no training clip is at least {min_length} samples at {sample_rate} Hz")
    return clips


class ClipSampler:
    def __init__(self, clips: list[np.ndarray], crop: int, seed: int, gain_db: tuple[float, float] = (-12.0, 6.0)) -> None:
        self.clips, self.crop, self.gain_db = clips, int(crop), gain_db
        lengths = np.array([len(c) for c in clips], dtype=np.float64)
        self.p = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        out = np.empty((n, self.crop), dtype=np.float32)
        for k in range(n):
            c = self.clips[int(self.rng.choice(len(self.clips), p=self.p))]
            s = int(self.rng.integers(len(c) - self.crop + 1))
            g = 10.0 ** (self.rng.uniform(*self.gain_db) / 20.0) * (1.0 if self.rng.random() < 0.5 else -1.0)
            out[k] = np.clip(c[s:s + self.crop] * g, -1.0, 1.0)
        return torch.from_numpy(out)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def validation_crops(clips: list[np.ndarray], crop: int, count: int, stride: int) -> list[torch.Tensor]:
    """The middle ``crop`` samples (fewer for shorter clips, a multiple of ``stride``) of the first
    ``count`` clips (a fixed list)."""
    out = []
    for c in clips[:count]:
        n = min(crop, len(c) // stride * stride)
        s = (len(c) - n) // 2
        out.append(torch.from_numpy(np.array(c[s:s + n])))
    return out
