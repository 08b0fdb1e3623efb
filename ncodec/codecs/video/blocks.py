"""The upsampling trunk shared by NeRV and HNeRV, and its enhanced (NeRV++-style) variant.

* ``nerv`` block (NeRV, HNeRV): ``GELU(PixelShuffle_s(Conv_k(x)))`` -- a convolution to
  ``s^2 C_out`` channels rearranged into an ``s``-times larger map.
* ``enhanced`` block (after NeRV++, Ghorbel et al. 2024): the same upsampling, plus a
  bilinear skip of the input (``Conv_1x1(bilinear_s(x))``) and a separable residual refinement
  ``u + PW(GELU(DW_5x5(u)))``. The skip carries low frequencies so the PixelShuffle branch
  only has to add detail, and the depthwise 5x5 widens the receptive field for very few
  parameters.

The head maps the last features to three channels in ``[0, 1]`` with ``(tanh + 1) / 2``:
Y, U and V of the frame (chroma at full resolution; the codec averages it to 4:2:0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ncodec.codecs.video.config import INRConfig


class UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int, enhanced: bool) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(c_in, c_out * stride * stride, kernel, padding=kernel // 2)
        self.shuffle = nn.PixelShuffle(stride)
        self.enhanced = enhanced
        if enhanced:
            self.skip = nn.Conv2d(c_in, c_out, 1)
            self.dw = nn.Conv2d(c_out, c_out, 5, padding=2, groups=c_out)
            self.pw = nn.Conv2d(c_out, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = F.gelu(self.shuffle(self.conv(x)))
        if not self.enhanced:
            return u
        up = F.interpolate(x, scale_factor=self.stride, mode="bilinear", align_corners=False)
        u = u + self.skip(up)
        return u + self.pw(F.gelu(self.dw(u)))


class Trunk(nn.Module):
    """Blocks + head: ``B x C0 x h0 x w0`` features -> ``B x 3 x (S h0) x (S w0)`` in [0, 1]."""

    def __init__(self, cfg: INRConfig) -> None:
        super().__init__()
        enhanced = cfg.block == "enhanced"
        c = cfg.channels
        self.blocks = nn.ModuleList(UpBlock(c[i], c[i + 1], s, k, enhanced)
                                    for i, (s, k) in enumerate(zip(cfg.strides, cfg.kernels)))
        self.head = nn.Conv2d(c[-1], 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return (torch.tanh(self.head(x)) + 1.0) * 0.5
