"""``LatentDataset``: a ``torch.utils.data.Dataset`` of learned-codec latents over files.

    >>> ds = LatentDataset("digits/", codec="wavelet-audio", quality=0.5,
    ...                    labels="prefix", cache="runs/latents", size=64, fit="start")  # doctest: +SKIP
    >>> x, y = ds[0]                    # x: float32 M x 64, y: the label's class index
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=2)          # doctest: +SKIP

**Items.** ``source`` is a folder (searched recursively) or a list of files: media files are
coded once with ``codec`` at ``quality`` into ``cache`` (``<cache>/<key>/<name>.ncd``; ``key``
hashes the codec, quality, weights hash and read options, so another setting never reuses a
stream and re-running reuses every stream already made, written atomically, so a killed run or
two workers leave no half-written file). ``.ncd`` files are used as they are and must be the
codec's, made with its weights (:class:`~ncodec.errors.WeightsMismatchError` otherwise).
Getting an item entropy-decodes its stream; nothing is synthesised.

**Labels** (``labels``): a callable ``path -> label``, ``"parent"`` (the folder's name, as
torchvision's ``ImageFolder``) or ``"prefix"`` (the file name up to its first ``_``), or
``None`` (items are tensors alone). Labels that are not integers become class indexes in the
sorted order of :attr:`classes`.

**Sizes** (``size``, ``fit``): an int or tuple for the trailing axes, never the channel axis
(latent units, e.g. frames for audio, ``(h, w)`` for images); ``fit="center"`` crops or zero-pads around the centre (as
torchvision's ``CenterCrop``), ``"start"`` keeps the beginning and pads at the end (time
axes). Without ``size`` items keep their own shapes. Items must have one layout to be batched:
the music codec gives stereo files ``2 x M x frames`` (mid and side) and mono ones ``M x
frames``, so read them alike (``read={"mono": True}``) when a folder mixes both.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ncodec.codecs import get_learned
from ncodec.codecs.base import LearnedCodec
from ncodec.container import Container
from ncodec.errors import NcodecError
from ncodec.media_io import read_media
from ncodec.media_io.audio import AUDIO_READ_EXTS
from ncodec.media_io.image import IMAGE_READ_EXTS
from ncodec.media_io.paths import atomic_output
from ncodec.media_io.video import VIDEO_READ_EXTS

STREAM_EXT = ".ncd"
FITS = ("center", "start")


def _files(source: str | os.PathLike | Sequence[str | os.PathLike], cache: Optional[Path]) -> list[Path]:
    """The items: a folder's media and stream files (not hidden ones, not the cache's), or the list."""
    known = set(IMAGE_READ_EXTS) | set(AUDIO_READ_EXTS) | set(VIDEO_READ_EXTS) | {STREAM_EXT}
    skip = cache.resolve() if cache is not None else None
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if not root.exists():
            raise NcodecError(f"{root} does not exist")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in known
                       and not p.name.startswith(".")
                       and (skip is None or skip not in p.resolve().parents)) if root.is_dir() else [root]
    else:
        files = [Path(p) for p in source]
    if not files:
        raise NcodecError(f"no media or {STREAM_EXT} files in {source}")
    return files


def _label_fn(labels: Callable[[Path], Any] | str | None) -> Optional[Callable[[Path], Any]]:
    if labels is None or callable(labels):
        return labels
    if labels == "parent":
        return lambda p: p.parent.name
    if labels == "prefix":
        return lambda p: p.name.split("_", 1)[0]
    raise NcodecError(f"labels={labels!r}: expected a callable, 'parent', 'prefix' or None")


def fit_to(x: np.ndarray, size: tuple[int, ...], fit: str) -> np.ndarray:
    """``x`` cropped or zero-padded on its last ``len(size)`` axes to ``size`` (see the module docstring)."""
    for axis, n in zip(range(x.ndim - len(size), x.ndim), size):
        have = x.shape[axis]
        if have > n:
            start = (have - n) // 2 if fit == "center" else 0
            x = np.take(x, range(start, start + n), axis=axis)
        elif have < n:
            before = (n - have) // 2 if fit == "center" else 0
            pad = [(0, 0)] * x.ndim
            pad[axis] = (before, n - have - before)
            x = np.pad(x, pad)
    return x


class LatentDataset(Dataset):
    """See the module docstring. ``codec`` is a learned codec's name, with ``options`` for it
    (``weights=...``), or a codec instance; ``read`` goes to
    :func:`~ncodec.media_io.read_media` (e.g. ``{"sample_rate": 16000, "mono": True}``),
    ``transform`` maps each feature tensor."""

    def __init__(self, source: str | os.PathLike | Sequence[str | os.PathLike], codec: str | LearnedCodec,
                 quality: Optional[float] = None, *, labels: Callable[[Path], Any] | str | None = None,
                 cache: Optional[str | os.PathLike] = None, size: int | Sequence[int] | None = None,
                 fit: str = "center", options: Optional[dict[str, Any]] = None,
                 read: Optional[dict[str, Any]] = None, transform: Optional[Callable] = None) -> None:
        if fit not in FITS:
            raise NcodecError(f"fit={fit!r}: expected one of {', '.join(FITS)}")
        self.cache = Path(cache) if cache is not None else None
        self.files = _files(source, self.cache)
        self.options, self.read = dict(options or {}), dict(read or {})
        if isinstance(codec, str):
            self._codec = get_learned(codec, **self.options)  # checks the name now; remade in each worker
            self._given = False
        elif isinstance(codec, LearnedCodec):
            if self.options:
                raise NcodecError("options go to a codec named by a string; this one is already made")
            self._codec, self._given = codec, True  # travels to the workers as it is
        else:
            raise NcodecError(f"codec must be a learned codec's name or instance, got {type(codec).__name__}")
        self.codec_name = self._codec.name
        self.quality = self._codec.check_quality(quality)
        self.size = None if size is None else ((int(size),) if isinstance(size, int) else tuple(int(v) for v in size))
        if self.size is not None and (not self.size or min(self.size) < 1):
            raise NcodecError(f"size={size!r}: expected positive lengths for the trailing axes")
        self.fit, self.transform = fit, transform
        if self.cache is None and any(p.suffix.lower() != STREAM_EXT for p in self.files):
            raise NcodecError("media files need cache=DIR for their coded streams")
        fn = _label_fn(labels)
        raw = [fn(p) for p in self.files] if fn is not None else None
        self.classes: list[Any] = []
        self.targets: Optional[list[Any]] = None
        if raw is not None:
            if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw):
                self.targets = [int(v) for v in raw]
            else:
                self.classes = sorted(set(raw), key=str)
                index = {c: i for i, c in enumerate(self.classes)}
                self.targets = [index[v] for v in raw]

    # ------------------------------------------------------------------ coding and caching
    @property
    def codec(self):
        if self._codec is None:
            self._codec = get_learned(self.codec_name, **self.options)
        return self._codec

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if not self._given:
            state["_codec"] = None  # a worker loads its own model
        return state

    @property
    def key(self) -> str:
        """What the cached streams depend on: codec, quality, weights and read options."""
        c = self.codec
        spec = {"codec": c.name, "version": c.version, "quality": self.quality, "weights": c.weights_hash(),
                "settings": {k: v for k, v in c.settings().items() if k != "weights"}, "read": self.read}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def stream_path(self, i: int) -> Path:
        """Where item ``i``'s stream is (made on first use)."""
        src = self.files[i]
        if src.suffix.lower() == STREAM_EXT:
            return src
        st = src.stat()  # a replaced or edited file gets a new stream
        tag = hashlib.sha256(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
        return self.cache / self.key / f"{src.stem}-{tag}{STREAM_EXT}"

    def stream(self, i: int) -> bytes:
        """Item ``i``'s stream: coded and cached on first use."""
        path = self.stream_path(i)
        if path.exists():
            return path.read_bytes()
        if path.suffix.lower() == STREAM_EXT and path == self.files[i]:
            raise NcodecError(f"{path} does not exist")
        data = self.codec.encode(read_media(self.files[i], **self.read), self.quality)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            Path(tmp).write_bytes(data)
        return data

    def prepare(self, progress: bool = True) -> "LatentDataset":
        """Code every item not cached yet (with a progress bar); returns ``self``."""
        from tqdm import tqdm

        for i in tqdm(range(len(self)), desc=f"coding with {self.codec_name}", disable=not progress, unit="item"):
            self.stream(i)
        return self

    def bits(self, i: int) -> int:
        """Item ``i``'s coded size: its chunks' bits, without the container header."""
        return 8 * self.codec.payload_bytes(Container.from_bytes(self.stream(i)))

    def bits_per_item(self) -> float:
        return float(np.mean([self.bits(i) for i in range(len(self))]))

    # ------------------------------------------------------------------ Dataset
    def __len__(self) -> int:
        return len(self.files)

    def features(self, i: int) -> torch.Tensor:
        c = self.codec
        container = Container.from_bytes(self.stream(i))
        if container.quality != self.quality and self.files[i].suffix.lower() != STREAM_EXT:
            raise NcodecError(f"{self.stream_path(i)} has quality {container.quality}, not {self.quality}")
        x = c.features(c.latents(container))  # refuses another codec's stream or other weights
        if self.size is not None:
            if len(self.size) >= x.ndim:
                raise NcodecError(f"size {self.size} would cut the channel axis of {c.name}'s {x.shape} features")
            x = fit_to(x, self.size, self.fit)
        t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        return self.transform(t) if self.transform is not None else t

    def __getitem__(self, i: int):
        x = self.features(i)
        return x if self.targets is None else (x, self.targets[i])
