"""Learned audio architectures by name, and building a model from its stored config."""

from __future__ import annotations

from typing import Any

from ncodec.errors import NcodecError

ARCHS = ("wavelet", "rvq")


def build_model(arch: str, **config: Any):
    if arch == "wavelet":
        from ncodec.codecs.audio.wavelet_model import WaveletHyperprior

        kw = {k: config[k] for k in ("levels", "wavelet", "C", "M", "N", "variable_rate", "sample_rate") if k in config}
        if "lambdas" in config:
            kw["lambdas"] = tuple(config["lambdas"])
        return WaveletHyperprior(**kw)
    if arch == "rvq":
        from ncodec.codecs.audio.token_model import TokenModel

        return TokenModel(**{k: config[k] for k in ("levels", "wavelet", "C", "D", "codebooks", "size", "hidden",
                                                     "sample_rate") if k in config})
    raise NcodecError(f"unknown audio architecture {arch!r}; choose one of {', '.join(ARCHS)}")
