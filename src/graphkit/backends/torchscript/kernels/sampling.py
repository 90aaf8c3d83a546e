"""GridSample, AffineGrid and Col2Im.

ONNX defined GridSample and AffineGrid after torch's grid_sample/affine_grid (same
normalized [-1, 1] coordinates, align_corners and padding modes), so they map onto
those calls; Col2Im is torch's fold, with ONNX's begin/end pads applied by folding into
the padded image and cropping it.
"""

from __future__ import annotations

from typing import List

import torch.nn.functional as F
from torch import Tensor


def grid_sample(x: Tensor, grid: Tensor, mode: str, padding_mode: str,
                align_corners: int) -> Tensor:
    """mode is torch's name: bilinear (ONNX linear), nearest or bicubic (ONNX cubic)."""
    return F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode=padding_mode,
                         align_corners=align_corners != 0)


def affine_grid(theta: Tensor, size: Tensor, align_corners: int) -> Tensor:
    shape: List[int] = size.tolist()
    return F.affine_grid(theta, shape, align_corners=align_corners != 0)


def col2im(x: Tensor, image_shape: Tensor, block_shape: Tensor, strides: List[int],
           pads: List[int], dilations: List[int]) -> Tensor:
    """2-D Col2Im: [N, C*kh*kw, L] -> [N, C, H, W]."""
    image: List[int] = image_shape.tolist()
    block: List[int] = block_shape.tolist()
    stride = strides if len(strides) > 0 else [1, 1]
    dilation = dilations if len(dilations) > 0 else [1, 1]
    pad = pads if len(pads) > 0 else [0, 0, 0, 0]
    padded = [image[0] + pad[0] + pad[2], image[1] + pad[1] + pad[3]]
    out = F.fold(x, padded, block, dilation=dilation, padding=0, stride=stride)
    return out[:, :, pad[0]:pad[0] + image[0], pad[1]:pad[1] + image[1]]
