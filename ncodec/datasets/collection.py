"""Datasets for sweeps: the media files under one or more paths, and how to load them.

A dataset is a sorted list of files of one media kind. Video items are cut to their first
``max_frames`` frames and scaled so the long side is at most ``max_side``; audio items can be
resampled and mixed to mono. Unreadable files are not fatal: :func:`list_media` returns
them in ``skipped`` with the reason, and the sweep reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ncodec.errors import MediaError
from ncodec.media import Media

EXTENSIONS = {
    "image": {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"},
    "video": {".mp4", ".mkv", ".webm", ".avi", ".mov", ".y4m"},
    "audio": {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac"},
}


@dataclass(frozen=True)
class LoadOptions:
    max_frames: Optional[int] = None
    max_side: Optional[int] = None
    sample_rate: Optional[int] = None
    mono: bool = False

    def as_dict(self) -> dict:
        return {"max_frames": self.max_frames, "max_side": self.max_side, "sample_rate": self.sample_rate,
                "mono": self.mono}


@dataclass
class Dataset:
    kind: str
    root: Path
    files: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def item_id(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def kind_of(path: Path) -> Optional[str]:
    ext = path.suffix.lower()
    for kind, exts in EXTENSIONS.items():
        if ext in exts:
            return kind
    return None


def list_media(paths: list[Path], kind: str, limit: Optional[int] = None) -> Dataset:
    """All files of ``kind`` under ``paths`` (files or directories, recursive), sorted."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise MediaError(f"dataset path {p} does not exist")
        cands = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
        for q in cands:
            k = kind_of(q)
            if k == kind:
                files.append(q)
            elif p.is_file():
                skipped.append((str(q), f"not a {kind} file"))
    files = sorted(set(files))
    if limit is not None:
        files = files[:limit]
    if not files:
        raise MediaError(f"no {kind} files found under {', '.join(str(p) for p in paths)}")
    roots = [Path(p) if Path(p).is_dir() else Path(p).parent for p in paths]
    return Dataset(kind, roots[0], files, skipped)


def load_item(path: Path, kind: str, options: LoadOptions) -> Media:
    from ncodec.media_io import read_audio, read_image, read_video

    if kind == "image":
        return read_image(path)
    if kind == "video":
        return read_video(path, max_frames=options.max_frames, max_side=options.max_side)
    return read_audio(path, sample_rate=options.sample_rate, mono=options.mono)
