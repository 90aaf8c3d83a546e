"""Convolutions and pooling for any number of spatial dims, ONNX padding rules included.

Pooling is written with Tensor.unfold (windows as a trailing dim) rather than torch's
pool modules, because ONNX allows asymmetric pads, dilated average pools and ceil-mode
windows that torch's pools do not.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor


def _fill(values: List[int], n: int, default: int) -> List[int]:
    return values if len(values) > 0 else [default] * n


def resolve_pads(
    sizes: List[int], kernel: List[int], strides: List[int], dilations: List[int],
    pads: List[int], auto_pad: str,
) -> List[int]:
    """[begin..., end...] pads after applying auto_pad."""
    n = len(sizes)
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return _fill(pads, 2 * n, 0)
    begin: List[int] = []
    end: List[int] = []
    for i in range(n):
        out = (sizes[i] + strides[i] - 1) // strides[i]
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - sizes[i], 0)
        small = total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else total - small)
        end.append(total - small if auto_pad == "SAME_UPPER" else small)
    return begin + end


def _torch_pad_order(begin: List[int], end: List[int]) -> List[int]:
    flat: List[int] = []
    for i in range(len(begin) - 1, -1, -1):
        flat += [begin[i], end[i]]
    return flat


def conv(
    x: Tensor, w: Tensor, b: Optional[Tensor], strides: List[int], pads: List[int],
    dilations: List[int], group: int, auto_pad: str,
) -> Tensor:
    n = x.dim() - 2
    strides = _fill(strides, n, 1)
    dilations = _fill(dilations, n, 1)
    kernel: List[int] = list(w.shape[2:])
    full = resolve_pads(list(x.shape[2:]), kernel, strides, dilations, pads, auto_pad)
    if full[:n] != full[n:]:
        x = torch.constant_pad_nd(x, _torch_pad_order(full[:n], full[n:]), 0.0)
        full = [0] * (2 * n)
    return torch.convolution(x, w, b, strides, full[:n], dilations, False, [0] * n, group)


def conv_transpose(
    x: Tensor, w: Tensor, b: Optional[Tensor], strides: List[int], pads: List[int],
    dilations: List[int], group: int, auto_pad: str, output_padding: List[int],
    output_shape: List[int],
) -> Tensor:
    n = x.dim() - 2
    strides = _fill(strides, n, 1)
    dilations = _fill(dilations, n, 1)
    extra = _fill(output_padding, n, 0)
    kernel: List[int] = list(w.shape[2:])
    full_size = [
        strides[i] * (x.shape[2 + i] - 1) + extra[i] + (kernel[i] - 1) * dilations[i] + 1
        for i in range(n)
    ]
    begin = _fill(pads, 2 * n, 0)[:n]
    end = _fill(pads, 2 * n, 0)[n:]
    if len(output_shape) > 0 or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        wanted = output_shape[-n:] if len(output_shape) > 0 else [
            x.shape[2 + i] * strides[i] for i in range(n)
        ]
        begin = []
        end = []
        for i in range(n):
            total = full_size[i] - wanted[i]
            if total < 0:
                # The requested shape is larger: the missing tail is zeros.
                begin.append(0)
                end.append(total)
                continue
            # Spec: SAME_UPPER puts the smaller half first; NOTSET (an output_shape) and
            # SAME_LOWER the larger.
            upper = auto_pad == "SAME_UPPER"
            begin.append(total // 2 if upper else total - total // 2)
            end.append(total - total // 2 if upper else total // 2)
    out = torch.convolution(x, w, b, strides, [0] * n, dilations, True, extra, group)
    # Negative amounts crop: constant_pad_nd both trims the pads and zero-fills a tail.
    return torch.constant_pad_nd(out, _torch_pad_order([-v for v in begin], [-v for v in end]), 0.0)


def _windows(t: Tensor, kernel: List[int], strides: List[int], dilations: List[int]) -> Tensor:
    n = len(kernel)
    for i in range(n):
        span = (kernel[i] - 1) * dilations[i] + 1
        t = t.unfold(2 + i, span, strides[i])
        if dilations[i] > 1:
            t = t.index_select(t.dim() - 1, torch.arange(0, span, dilations[i]))
    return t.reshape(list(t.shape[: 2 + n]) + [-1])


def _pool_geometry(
    sizes: List[int], kernel: List[int], strides: List[int], dilations: List[int],
    pads: List[int], ceil_mode: int,
) -> List[int]:
    """Extra right padding each dim needs so the last (ceil-mode) window fits."""
    n = len(sizes)
    extra: List[int] = []
    for i in range(n):
        span = (kernel[i] - 1) * dilations[i] + 1
        total = sizes[i] + pads[i] + pads[n + i]
        out = (total - span) // strides[i] + 1
        if ceil_mode == 1:
            out = (total - span + strides[i] - 1) // strides[i] + 1
            if (out - 1) * strides[i] >= sizes[i] + pads[i]:
                out -= 1  # a window may not start in the right padding
        extra.append(max((out - 1) * strides[i] + span - total, 0))
    return extra


def pool(
    x: Tensor, kernel: List[int], strides: List[int], pads: List[int], dilations: List[int],
    auto_pad: str, ceil_mode: int, kind: str, count_include_pad: int, p: int,
) -> Tensor:
    """kind: max, avg or lp."""
    n = len(kernel)
    strides = _fill(strides, n, 1)
    dilations = _fill(dilations, n, 1)
    sizes: List[int] = list(x.shape[2:])
    full = resolve_pads(sizes, kernel, strides, dilations, pads, auto_pad)
    extra = _pool_geometry(sizes, kernel, strides, dilations, full, ceil_mode)
    right = [full[n + i] + extra[i] for i in range(n)]
    if kind == "max":
        lowest = 0.0 if x.dtype == torch.uint8 else -128.0
        fill = float("-inf") if x.is_floating_point() else lowest
        padded = torch.constant_pad_nd(x, _torch_pad_order(full[:n], right), fill)
        return torch.amax(_windows(padded, kernel, strides, dilations), -1)
    padded = torch.constant_pad_nd(x, _torch_pad_order(full[:n], right), 0.0)
    if kind == "lp":
        powered = torch.pow(torch.abs(padded), float(p))
        total = torch.sum(_windows(powered, kernel, strides, dilations), -1)
        return torch.pow(total, 1.0 / p).to(x.dtype)
    ones = torch.ones([1, 1] + sizes, dtype=x.dtype)
    if count_include_pad == 1:
        # Declared pads count, the ceil-mode extension does not.
        ones = torch.constant_pad_nd(ones, _torch_pad_order(full[:n], full[n:]), 1.0)
        mask = torch.constant_pad_nd(ones, _torch_pad_order([0] * n, extra), 0.0)
    else:
        mask = torch.constant_pad_nd(ones, _torch_pad_order(full[:n], right), 0.0)
    total = torch.sum(_windows(padded, kernel, strides, dilations), -1)
    count = torch.sum(_windows(mask, kernel, strides, dilations), -1)
    return total / count


def max_pool_with_indices(
    x: Tensor, kernel: List[int], strides: List[int], pads: List[int], dilations: List[int],
    auto_pad: str, ceil_mode: int, storage_order: int,
) -> Tuple[Tensor, Tensor]:
    n = len(kernel)
    strides = _fill(strides, n, 1)
    dilations = _fill(dilations, n, 1)
    sizes: List[int] = list(x.shape[2:])
    full = resolve_pads(sizes, kernel, strides, dilations, pads, auto_pad)
    extra = _pool_geometry(sizes, kernel, strides, dilations, full, ceil_mode)
    order = _torch_pad_order(full[:n], [full[n + i] + extra[i] for i in range(n)])
    windows = _windows(torch.constant_pad_nd(x, order, float("-inf")), kernel, strides, dilations)
    values, arg = torch.max(windows, -1, True)
    plane = 1
    for s in sizes:
        plane *= s
    if storage_order == 1:
        reversed_sizes = sizes[::-1]
        grid = torch.arange(plane).reshape(reversed_sizes).permute(list(range(n - 1, -1, -1)))
    else:
        grid = torch.arange(plane).reshape(sizes)
    grid = torch.constant_pad_nd(grid.reshape([1, 1] + sizes), order, -1)
    where = _windows(grid, kernel, strides, dilations).expand(list(windows.shape))
    index = torch.gather(where, -1, arg).squeeze(-1)
    channel = torch.arange(x.shape[0] * x.shape[1]).reshape([x.shape[0], x.shape[1]] + [1] * n)
    return values.squeeze(-1), index + channel * plane


def global_pool(x: Tensor, kind: str, p: int) -> Tensor:
    dims = list(range(2, x.dim()))
    if kind == "max":
        return torch.amax(x, dims, True)
    if kind == "avg":
        return torch.mean(x, dims, True)
    return torch.pow(torch.sum(torch.pow(torch.abs(x), float(p)), dims, True), 1.0 / p)


def causal_conv_with_state(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                           past: Optional[Tensor], activation: str) -> Tuple[Tensor, Tensor]:
    """Depthwise causal conv1d over [past_state (zeros if absent), input]: (output, the
    last k-1 positions of that concatenation as the next state)."""
    keep = weight.size(2) - 1
    if past is None:
        past = torch.zeros([x.size(0), x.size(1), keep], dtype=x.dtype, device=x.device)
    joined = torch.cat([past, x], 2)
    out = torch.conv1d(joined, weight, bias, [1], [0], [1], x.size(1))
    if activation in ("silu", "swish"):
        out = out * torch.sigmoid(out)
    return out, joined[:, :, joined.size(2) - keep:]


def onednn_layout(x: Tensor) -> Tensor:
    """x laid out NHWC (same values) where torch's CPU convolution hands it to oneDNN, which
    runs that layout faster: a batch over 1 or over 20,480 values (torch's own rule, in
    ConvParams::use_mkldnn). Smaller single images go to torch's native kernel, which is
    faster on NCHW. A tensor already NHWC stays so (no copy)."""
    if x.size(0) > 1 or x.numel() > 20480:
        return x.contiguous(memory_format=torch.channels_last)
    return x
