"""HNeRV (Chen et al. 2023): a content-adaptive embedding per frame, decoded by a small network.

* Encoder (used only while fitting, never transmitted): the ``3 x H' x W'`` frame passes
  through strided convolutions that undo the decoder's strides (kernel = stride, GELU), then a
  1x1 convolution to ``d`` channels: the embedding ``e_t`` of ``d x h0 x w0`` values.
* Decoder: ``GELU(Conv_3x3(e_t))`` -> upsampling trunk (:mod:`ncodec.codecs.video.blocks`).

The embeddings are quantized (per channel, ``embed_bits``) and entropy coded into the stream
next to the decoder's weights; while the decoder is fine-tuned for quantization they are
frozen at their quantized values, so the decoder learns the exact inputs it will get.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ncodec.codecs.video.blocks import Trunk
from ncodec.codecs.video.config import INRConfig

ENCODER_MAX_CHANNELS = 64


class HNeRVEncoder(nn.Module):
    def __init__(self, cfg: INRConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for i, s in enumerate(reversed(cfg.strides)):
            c_out = min(16 * 2 ** i, ENCODER_MAX_CHANNELS)
            layers += [nn.Conv2d(c, c_out, s, stride=s), nn.GELU()]
            c = c_out
        layers.append(nn.Conv2d(c, cfg.embed_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames)


class HNeRVDecoder(nn.Module):
    def __init__(self, cfg: INRConfig) -> None:
        super().__init__()
        self.stem = nn.Conv2d(cfg.embed_dim, cfg.channels[0], 3, padding=1)
        self.trunk = Trunk(cfg)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.trunk(F.gelu(self.stem(embeddings)))


class HNeRV(nn.Module):
    """Encoder + decoder; only ``decoder`` weights and the embeddings go into the stream."""

    arch = "hnerv"
    has_embeddings = True

    def __init__(self, cfg: INRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = HNeRVEncoder(cfg)
        self.decoder = HNeRVDecoder(cfg)

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(frames)

    def decode_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.decoder(embeddings)
