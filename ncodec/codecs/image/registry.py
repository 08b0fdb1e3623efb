"""Learned image architectures by name, and building a model from its stored config."""

from __future__ import annotations

from typing import Any

from ncodec.codecs.image.base import LearnedImageModel
from ncodec.errors import NcodecError

ARCHS = ("factorized", "scale-hyperprior", "mean-scale-hyperprior", "checkerboard", "wavelet")


def build_model(arch: str, **config: Any) -> LearnedImageModel:
    from ncodec.codecs.image.checkerboard import CheckerboardModel
    from ncodec.codecs.image.hyperprior import HyperpriorModel

    kw = {k: config[k] for k in ("N", "M", "variable_rate") if k in config}
    if "lambdas" in config:
        kw["lambdas"] = tuple(config["lambdas"])
    if arch == "factorized":
        from ncodec.codecs.image.factorized_model import FactorizedModel

        return FactorizedModel(**kw)
    if arch == "scale-hyperprior":
        return HyperpriorModel(mean=False, **kw)
    if arch == "mean-scale-hyperprior":
        return HyperpriorModel(mean=True, **kw)
    if arch == "checkerboard":
        return CheckerboardModel(**kw)
    if arch == "wavelet":
        from ncodec.codecs.image.wavelet import WaveletImageModel

        return WaveletImageModel(**kw, **{k: config[k] for k in ("C", "levels", "wavelet") if k in config})
    raise NcodecError(f"unknown image architecture {arch!r}; choose one of {', '.join(ARCHS)}")
