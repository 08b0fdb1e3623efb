"""Compressed-domain learning: latents as tensors from streams (no synthesis) and from media (no
entropy coding), and LatentDataset's cache, labels, sizes, workers and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ncodec
from ncodec.checkpoint import save_weights
from ncodec.codecs.model_state import learned_state
from ncodec.errors import CorruptStreamError, FormatError, NcodecError, WeightsMismatchError
from ncodec.learning import LatentDataset, features
from ncodec.learning.dataset import fit_to
from ncodec.media_io import write_media


def _weights(tmp_path, kind, arch, seed=0):
    torch.manual_seed(seed)
    if kind == "image":
        from ncodec.codecs.image.registry import build_model

        model = build_model(arch, N=16, M=24)
        with torch.no_grad():
            model.g_a[-1].weight.mul_(20.0)
        state = model.state_dict()
    else:
        from ncodec.codecs.audio.registry import build_model

        model = build_model(arch, C=16, **({"M": 8, "N": 8} if arch == "wavelet" else {"D": 8, "codebooks": 4}))
        state = learned_state(model)
    path = tmp_path / f"{arch}-{seed}.safetensors"
    save_weights(state, path, {"config": model.config()})
    return path


def _image(seed=0, h=64, w=96):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(x / (5 + seed)) * np.cos(y / 7)
    return ncodec.Image(np.clip(base[..., None] + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8))


def _audio(seed=0, n=12_000):
    t = np.arange(n) / 16_000
    return ncodec.Audio((0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t)).astype(np.float32)[None], 16_000)


CASES = [("image", "checkerboard", "checkerboard", 0.5, (24, 4, 8)),  # 64 x 96 padded to 64 x 128, / 16
         ("image", "factorized", "factorized", 0.5, (24, 4, 6)),
         ("audio", "wavelet", "wavelet-audio", 0.5, (8, 96)),
         ("audio", "rvq", "rvq-audio", 3, (8, 38))]


@pytest.mark.parametrize("kind,arch,name,q,shape", CASES)
def test_features_from_a_stream_need_no_synthesis_and_equal_those_from_media(tmp_path, monkeypatch, kind, arch,
                                                                             name, q, shape):
    from ncodec.codecs import codec_class

    w = _weights(tmp_path, kind, arch)
    media = _image() if kind == "image" else _audio()
    data = ncodec.encode(media, name, q, weights=w)
    monkeypatch.setattr(codec_class(name), "synthesise", lambda self, lat: pytest.fail("synthesis ran"))
    from_stream = features(data, weights=w)
    monkeypatch.setattr(codec_class(name), "to_chunks", lambda self, lat: pytest.fail("entropy coding ran"))
    from_media = features(media, name, q, weights=w)
    assert from_stream.dtype == torch.float32 and tuple(from_stream.shape) == shape
    assert torch.equal(from_stream, from_media)
    if kind == "image":  # quantization steps: the coded integers plus the predicted means
        lat = ncodec.latents(data, weights=w)
        assert lat.tensors["y"].shape[1:] == shape


def test_features_refuse_classical_codecs_other_weights_and_nerv(tmp_path):
    with pytest.raises(FormatError, match="not a learned codec"):
        features(ncodec.encode(_image(), "png"))
    w0, w1 = _weights(tmp_path, "audio", "wavelet", 0), _weights(tmp_path, "audio", "wavelet", 1)
    data = ncodec.encode(_audio(), "wavelet-audio", 0.5, weights=w0)
    with pytest.raises(WeightsMismatchError):
        features(data, weights=w1)
    with pytest.raises(FormatError):
        features(data, codec="rvq-audio", weights=w0)
    with pytest.raises(NcodecError, match="need codec"):
        features(_audio())
    from ncodec.codecs.video.codec import NeRVCodec
    from ncodec.latents import Latents

    with pytest.raises(NcodecError, match="no per-frame latents"):
        NeRVCodec().features(Latents("nerv", 0.5, {}, {"w.x": np.zeros(3, np.int64)}))


def test_fit_crops_and_pads_the_trailing_axes():
    x = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    c = fit_to(x, (3, 9), "center")
    assert c.shape == (2, 3, 9) and np.array_equal(c[:, :, 1:8], x[:, 1:4]) and not c[:, :, [0, 8]].any()
    s = fit_to(x, (4,), "start")
    assert s.shape == (2, 5, 4) and np.array_equal(s, x[..., :4])


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "data"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            write_media(_image(seed=i + (3 if label == "dog" else 0), h=48 + 16 * i), root / label / f"{label}_{i}.png")
    return root


def test_dataset_codes_once_labels_by_folder_and_reuses_its_cache(tmp_path, folder, monkeypatch):
    w = _weights(tmp_path, "image", "factorized")
    cache = tmp_path / "cache"
    ds = LatentDataset(folder, "factorized", 0.5, labels="parent", cache=cache, size=(4, 6),
                       options={"weights": str(w)}).prepare(progress=False)
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 0, 1, 1, 1]
    streams = sorted(cache.rglob("*.ncd"))
    assert len(streams) == 6 and all(p.parent.name == ds.key for p in streams)
    x, y = ds[4]
    assert x.shape == (24, 4, 6) and y == 1
    assert ds.bits(0) > 0 and ds.bits_per_item() > 0
    # a second dataset with the same settings codes nothing; another quality gets its own key
    from ncodec.codecs import codec_class

    again = LatentDataset(folder, "factorized", 0.5, labels="parent", cache=cache, size=(4, 6),
                          options={"weights": str(w)})
    monkeypatch.setattr(codec_class("factorized"), "encode", lambda *a, **k: pytest.fail("coded again"))
    assert torch.equal(again[4][0], x)
    assert LatentDataset(folder, "factorized", 0.7, cache=cache, options={"weights": str(w)}).key != ds.key


def test_dataset_works_with_two_dataloader_workers(tmp_path, folder):
    w = _weights(tmp_path, "image", "factorized")
    ds = LatentDataset(folder, "factorized", 0.5, labels="prefix", cache=tmp_path / "cache", size=(3, 5),
                       options={"weights": str(w)})
    plain = [(x, y) for x, y in torch.utils.data.DataLoader(ds, batch_size=2)]
    workers = [(x, y) for x, y in torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)]
    assert len(plain) == len(workers) == 3
    for (a, ya), (b, yb) in zip(plain, workers):
        assert torch.equal(a, b) and torch.equal(ya, yb)


def test_dataset_over_streams_refuses_corrupt_and_mismatched_files(tmp_path):
    w0, w1 = _weights(tmp_path, "audio", "wavelet", 0), _weights(tmp_path, "audio", "wavelet", 1)
    root = tmp_path / "streams"
    root.mkdir()
    for i in range(2):
        (root / f"a_{i}.ncd").write_bytes(ncodec.encode(_audio(i), "wavelet-audio", 0.5, weights=w0))
    ds = LatentDataset(root, "wavelet-audio", options={"weights": str(w0)}, labels="prefix", size=32, fit="start")
    assert ds[1][0].shape == (8, 32)
    with pytest.raises(WeightsMismatchError):
        LatentDataset(root, "wavelet-audio", options={"weights": str(w1)})[0]
    data = (root / "a_0.ncd").read_bytes()
    (root / "a_0.ncd").write_bytes(data[:-7] + bytes(7))
    with pytest.raises(CorruptStreamError):
        ds[0]
    with pytest.raises(NcodecError, match="cache"):
        LatentDataset([root / "a_1.ncd", tmp_path / "x.wav"], "wavelet-audio")
    with pytest.raises(NcodecError, match="fit"):
        LatentDataset(root, "wavelet-audio", fit="middle")


def test_cli_latents_writes_features_and_tensors(tmp_path, capsys):
    from ncodec.cli.main import main

    w = _weights(tmp_path, "audio", "wavelet")
    src = tmp_path / "a.ncd"
    src.write_bytes(ncodec.encode(_audio(), "wavelet-audio", 0.5, weights=w))
    out = tmp_path / "a.npz"
    assert main(["latents", str(src), str(out), "--weights", str(w)]) == 0
    z = np.load(out)
    assert z["features"].shape == (8, 96) and z["tensor_y"].dtype == np.int64
    assert np.array_equal(z["features"], features(src, weights=w).numpy())
    capsys.readouterr()
    assert main(["latents", str(src), str(out), "--weights", str(w)]) == 1  # exists: -f needed
    png = tmp_path / "p.ncd"
    png.write_bytes(ncodec.encode(_image(), "png"))
    assert main(["latents", str(png), str(tmp_path / "p.npz")]) == 1
    src.write_bytes(src.read_bytes()[:40])
    assert main(["latents", str(src), str(tmp_path / "b.npz"), "--weights", str(w)]) == 1
    err = capsys.readouterr().err
    assert "not a learned codec" in err and "Traceback" not in err
    assert not (tmp_path / "p.npz").exists() and not (tmp_path / "b.npz").exists()


def test_dataset_takes_a_codec_instance(tmp_path, folder):
    from ncodec.codecs.image.codec import WaveletImageCodec

    w = _weights(tmp_path, "image", "wavelet")
    codec = WaveletImageCodec(weights=w)
    ds = LatentDataset(folder, codec, 0.5, labels="parent", cache=tmp_path / "cache", size=(2, 2))
    assert ds.codec is codec and ds.codec_name == "wavelet-image"
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=6, num_workers=2)))
    assert x.shape == (6, 24, 2, 2) and y.tolist() == [0, 0, 0, 1, 1, 1]
    with pytest.raises(NcodecError, match="options"):
        LatentDataset(folder, codec, cache=tmp_path / "cache", options={"weights": str(w)})


def test_dataset_recodes_a_changed_file_and_never_lists_its_own_cache(tmp_path, folder):
    w = _weights(tmp_path, "image", "factorized")
    cache = folder / "cache"  # inside the source folder
    ds = LatentDataset(folder, "factorized", 0.5, labels="parent", cache=cache, options={"weights": str(w)})
    first = ds[0]
    again = LatentDataset(folder, "factorized", 0.5, labels="parent", cache=cache, options={"weights": str(w)})
    assert len(again) == 6 and all(cache not in p.parents for p in again.files)
    old = ds.stream_path(0)
    write_media(_image(seed=9, h=48), ds.files[0])  # the same name, other pixels
    changed = LatentDataset(folder, "factorized", 0.5, labels="parent", cache=cache, options={"weights": str(w)})
    assert changed.stream_path(0) != old and not torch.equal(changed[0][0], first[0])
    for size in (0, (3, -1)):
        with pytest.raises(NcodecError, match="size"):
            LatentDataset(folder, "factorized", 0.5, cache=cache, size=size, options={"weights": str(w)})
    with pytest.raises(NcodecError, match="channel axis"):
        LatentDataset(folder, "factorized", 0.5, cache=cache, size=(24, 3, 3), options={"weights": str(w)})[0]
    with pytest.raises(NcodecError, match="not a file"):
        features(tmp_path / "missing.ncd")
