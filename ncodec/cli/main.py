"""The ``ncodec`` command: encode, decode, info, codecs, demo, bench.

Every failure a user can cause ends in one line on stderr (``ncodec: error: ...``) and a
non-zero exit status, never a traceback; set ``NCODEC_DEBUG=1`` to see the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Optional, Sequence

from ncodec.errors import NcodecError
from ncodec.quiet import silence_known_warnings

_STARTED = time.perf_counter()  # when the command's process reached ncodec (the interpreter's start aside)
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ncodec", description="Learned and classical media codecs in one container.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    e = sub.add_parser("encode", help="encode an image, video or audio file into an .ncd container")
    e.add_argument("-c", "--codec", required=True,
                   help="codec name (see `ncodec codecs`), optionally with options: name:key=value[:key=value]")
    e.add_argument("-q", "--quality", type=float, default=None, help="quality (codec-specific range)")
    e.add_argument("--tune", choices=["psnr"], default=None, help="x264/x265 tuning (default: the encoder's psycho-visual)")
    e.add_argument("--max-frames", type=int, default=None, help="video: encode only the first N frames")
    e.add_argument("--max-side", type=int, default=None, help="video: downscale so the long side is at most N")
    e.add_argument("--weights", type=Path, default=None,
                   help="learned codecs: ncodec .safetensors or CompressAI checkpoint (default: shipped weights)")
    e.add_argument("--refine-steps", type=int, default=None,
                   help="learned image codecs: gradient steps refining the latents per image (slower encode, "
                        "fewer bits at the same quality; decoding unchanged)")
    e.add_argument("--size-kb", type=float, default=None,
                   help="NeRV-family codecs: target file size in kB (instead of -q, the target bits per pixel)")
    e.add_argument("-f", "--force", action="store_true", help="overwrite OUT if it exists")
    e.add_argument("input", type=Path, metavar="IN")
    e.add_argument("output", type=Path, metavar="OUT")

    d = sub.add_parser("decode", help="decode an .ncd container; output format from OUT's extension")
    d.add_argument("--weights", type=Path, default=None, help="learned codecs: the weights the stream was made with")
    d.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="learned codecs: refuse streams whose decode would need more memory than this "
                        "(e.g. 16G; default 8G)")
    d.add_argument("-f", "--force", action="store_true", help="overwrite OUT if it exists")
    d.add_argument("input", type=Path, metavar="IN")
    d.add_argument("output", type=Path, metavar="OUT")

    lt = sub.add_parser("latents", help="write a learned stream's latents to .npz (entropy decoding only)")
    lt.add_argument("--weights", type=Path, default=None, help="learned codecs: the weights the stream was made with")
    lt.add_argument("--max-memory", default=None, metavar="SIZE",
                    help="refuse streams whose decode would need more memory than this (e.g. 16G; default 8G)")
    lt.add_argument("-f", "--force", action="store_true", help="overwrite OUT if it exists")
    lt.add_argument("input", type=Path, metavar="IN")
    lt.add_argument("output", type=Path, metavar="OUT.npz")

    i = sub.add_parser("info", help="show a container's header")
    i.add_argument("--json", action="store_true", help="print JSON instead of a table")
    i.add_argument("input", type=Path, metavar="FILE")

    c = sub.add_parser("codecs", help="list codecs with kind, quality range and settings")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.add_argument("--kind", choices=["image", "video", "audio"], default=None)

    sub.add_parser("demo", help="encode and decode the bundled samples, print a table")

    from ncodec.cli import bench

    bench.add_parser(sub)
    from ncodec.cli import train

    train.add_parser(sub)
    return p


def _encode(args: argparse.Namespace) -> None:
    from ncodec.cli.files import check_output, write_bytes_atomic
    from ncodec.codecs import get
    from ncodec.media_io import read_media, read_video
    from ncodec.eval.metrics import quality_summary
    from ncodec.eval.sweep import CodecSpec

    check_output(args.output, args.force)
    options: dict = {"tune": args.tune} if args.tune else {}
    if args.weights is not None:
        options["weights"] = args.weights
    if args.refine_steps is not None:
        options["refine_steps"] = args.refine_steps
    spec = CodecSpec.parse(args.codec)  # name[:key=value...]
    options.update(spec.options)
    codec = get(spec.name, **options)
    workdir = None
    if codec.fits_at_encode:  # fitting checkpoints here; a re-run of the same command resumes
        workdir = args.output.with_name(args.output.name + ".fit")
        codec = get(spec.name, **options, workdir=workdir, progress=True)
    if args.size_kb is not None and (not codec.fits_at_encode or args.quality is not None):
        raise NcodecError("--size-kb applies to the NeRV-family codecs only, and replaces -q")
    if args.max_frames is not None or args.max_side is not None:
        media = read_video(args.input, max_frames=args.max_frames, max_side=args.max_side)
    else:
        media = read_media(args.input)
    if media.kind != codec.kind:
        raise NcodecError(f"{args.input} is {media.kind}, but codec {codec.name} codes {codec.kind}")
    quality = args.quality
    if args.size_kb is not None:
        from ncodec.codecs.video.codec import bits_per_pixel_for_size

        quality = bits_per_pixel_for_size(args.size_kb, media)
    t = time.perf_counter()
    try:
        data = codec.encode(media, quality)
    except KeyboardInterrupt:
        if workdir is not None and workdir.exists():
            print(f"ncodec: the fit so far is saved in {workdir}; run the same command to resume", file=sys.stderr)
        raise
    seconds = time.perf_counter() - t
    write_bytes_atomic(args.output, data)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = quality_summary(media, codec.decode(data), len(data))
    stats = ", ".join(f"{k} {v:.3f}" if k in ("bpp",) else f"{k} {v:.2f}" for k, v in summary.items())
    print(f"{args.output}: {len(data):,} bytes, {codec.name} q={codec.check_quality(quality):g}, "
          f"{stats}, encoded in {seconds:.2f} s (codec work; whole command {time.perf_counter() - _STARTED:.2f} s)")


_LOSSY_OUT = {".jpg", ".jpeg", ".webp", ".mp4", ".mkv", ".webm", ".mov", ".mp3", ".ogg", ".opus", ".m4a"}


def _decode(args: argparse.Namespace) -> None:
    from ncodec import decode
    from ncodec.cli.files import check_output, read_bytes
    from ncodec.media_io import write_media

    check_output(args.output, args.force)
    data = read_bytes(args.input)
    options: dict = {"weights": args.weights} if args.weights is not None else {}
    if args.max_memory is not None:
        options["max_memory"] = args.max_memory
    t = time.perf_counter()
    media = decode(data, **options)
    seconds = time.perf_counter() - t
    write_media(media, args.output)
    note = ""
    if args.output.suffix.lower() in _LOSSY_OUT:
        note = " (note: this output format is lossy; it was re-encoded at visually lossless quality)"
    rate = ""
    if media.kind == "video":
        rate = f", {media.num_frames / max(seconds, 1e-9):.1f} frames/s"
    print(f"{args.output}: {media.kind} {'x'.join(map(str, media.metadata()['shape']))}, "
          f"decoded in {seconds:.2f} s (codec work, model loading included; whole command "
          f"{time.perf_counter() - _STARTED:.2f} s){rate}{note}")


def _latents(args: argparse.Namespace) -> None:
    """``features`` (float32, what models learn from) and every named latent tensor, as .npz."""
    import io

    import numpy as np

    from ncodec.cli.files import check_output, read_bytes, write_bytes_atomic
    from ncodec.codecs import get_learned
    from ncodec.container import Container

    if args.output.suffix.lower() != ".npz":
        raise NcodecError(f"{args.output}: latents are written as .npz")
    check_output(args.output, args.force)
    container = Container.from_bytes(read_bytes(args.input))
    options: dict = {"weights": args.weights} if args.weights is not None else {}
    if args.max_memory is not None:
        options["max_memory"] = args.max_memory
    codec = get_learned(container.codec, **options)
    lat = codec.latents(container)
    arrays = {f"tensor_{k}": v for k, v in lat.tensors.items()}
    try:
        arrays = {"features": codec.features(lat), **arrays}
    except NcodecError as exc:  # NeRV: no per-frame latent; its tensors are still written
        print(f"ncodec: no features: {exc}", file=sys.stderr)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(args.output, buf.getvalue())
    shown = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    print(f"{args.output}: {container.codec} latents: {shown}")


def _info(args: argparse.Namespace) -> None:
    from ncodec.cli.files import read_bytes
    from ncodec.container import Container, describe

    data = read_bytes(args.input)
    info = describe(Container.from_bytes(data), file_size=len(data))
    model = _shipped_model(info["codec"], info["weights_sha256"])
    if model:
        info["model"] = model
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return
    rows = [("format version", info["format_version"]), ("codec", f"{info['codec']} (version {info['codec_version']})"),
            ("quality", info["quality"]), ("weights sha256", info["weights_sha256"] or "-")]
    if model:
        rows += [("model", _short(model["config"])), ("model weights", f"{model['file']} ({model['match']})")]
    rows += [(f"media {k}", v) for k, v in info["media"].items()]
    rows += [(f"param {k}", _short(v)) for k, v in info["params"].items()]
    for c in info["chunks"]:
        raw = info["params"].get(f"{c['name']}_raw_bytes")
        count = info["params"].get(f"{c['name']}_count")  # values; stored as bytes each, the usual yardstick
        vs = ""
        if isinstance(raw, int) and raw > 0:
            vs = f" (stored plainly: {raw:,} bytes; entropy coding saves {100 * (1 - c['bytes'] / raw):.1f} %"
            if isinstance(count, int) and count > raw:
                vs += f"; as 8-bit values: {count:,} bytes, saves {100 * (1 - c['bytes'] / count):.1f} %"
            vs += ")"
        rows.append((f"chunk {c['name']}", f"{c['bytes']:,} bytes, crc32 {c['crc32']}{vs}"))
    rows += [("file", f"{info['file_bytes']:,} bytes ({info['overhead_bytes']:,} bytes container overhead)")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def _shipped_model(codec: str, stream_hash: object) -> dict:
    """The config of the weights the package ships for a learned codec, read from the file's
    header alone (no torch), and whether the stream was made with them."""
    from ncodec.codecs.registry import codec_class
    from ncodec.errors import NcodecError
    from ncodec.weights import metadata

    try:
        shipped = getattr(codec_class(codec), "shipped_weights", None)
    except NcodecError:
        return {}
    meta = metadata(shipped()) if shipped else None
    if not meta or not isinstance(meta.get("config"), dict):
        return {}
    known = meta.get("sha256")
    match = ("the stream's weights" if known == stream_hash else "not the stream's weights") if known else \
        "hash not recorded in the file"
    return {"file": shipped().name, "config": meta["config"], "match": match}


def _short(v: object, limit: int = 160) -> object:
    """A header value for the info table: JSON, long per-tensor tables summarised (--json shows all)."""
    if not isinstance(v, (dict, list)):
        return v
    text = json.dumps(v)
    if len(text) <= limit:
        return text
    if isinstance(v, list):
        return f"[{len(v)} entries; see --json]"
    return "{" + ", ".join(f"{k}: {_short(x, 40)}" for k, x in v.items()) + "}"


def _codecs(args: argparse.Namespace) -> None:
    from ncodec.codecs import get, names

    entries = []
    for n in names(args.kind):
        c = get(n)
        lo, hi = c.quality_range
        entries.append({"name": n, "kind": c.kind, "quality_range": [lo, hi], "default_quality": c.default_quality,
                        "quality_unit": c.quality_unit, "lossless": c.lossless, "learned": c.learned,
                        "description": c.description, "settings": c.settings()})
    if args.json:
        print(json.dumps(entries, indent=2))
        return
    print(f"{'codec':<10} {'kind':<6} {'quality':<18} {'lossless':<8} {'learned':<7} settings")
    for e in entries:
        q = f"{e['quality_range'][0]:g}..{e['quality_range'][1]:g} ({e['default_quality']:g})"
        settings = ", ".join(f"{k}={v}" for k, v in e["settings"].items())
        print(f"{e['name']:<10} {e['kind']:<6} {q:<18} {'yes' if e['lossless'] else 'no':<8} "
              f"{'yes' if e['learned'] else 'no':<7} {settings}")


def _demo(args: argparse.Namespace) -> None:
    from ncodec.cli.demo import run_demo

    run_demo()


def _bench(args: argparse.Namespace) -> None:
    from ncodec.cli.bench import run

    run(args)


def _train(args: argparse.Namespace) -> None:
    from ncodec.cli.train import run

    run(args)


_COMMANDS = {"train": _train, "encode": _encode, "decode": _decode, "latents": _latents, "info": _info,
             "codecs": _codecs, "demo": _demo, "bench": _bench}


def main(argv: Optional[Sequence[str]] = None) -> int:
    silence_known_warnings()
    args = _parser().parse_args(None if argv is None else [str(a) for a in argv])
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `kill` stops like Ctrl-C: fits checkpoint, temporary outputs are removed
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        _COMMANDS[args.command](args)
        return 0
    except KeyboardInterrupt:
        print("ncodec: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (NcodecError, OSError, ValueError) as exc:
        if os.environ.get("NCODEC_DEBUG"):
            traceback.print_exc()
        print(f"ncodec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line, with a hint how to see more
        if os.environ.get("NCODEC_DEBUG"):
            traceback.print_exc()
        print(f"ncodec: internal error: {type(exc).__name__}: {exc} (set NCODEC_DEBUG=1 for details)",
              file=sys.stderr)
        return EXIT_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
