"""Activation functions, written from their ONNX formulas."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def leaky_relu(x: Tensor, alpha: float) -> Tensor:
    return torch.where(x >= 0, x, x * alpha)


def elu(x: Tensor, alpha: float) -> Tensor:
    return torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


def selu(x: Tensor, alpha: float, gamma: float) -> Tensor:
    return gamma * torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


def celu(x: Tensor, alpha: float) -> Tensor:
    return torch.clamp(x, min=0.0) + torch.clamp(alpha * (torch.exp(x / alpha) - 1), max=0.0)


def hard_sigmoid(x: Tensor, alpha: float, beta: float) -> Tensor:
    return torch.clamp(alpha * x + beta, 0.0, 1.0)


def hard_swish(x: Tensor) -> Tensor:
    return x * torch.clamp(x / 6.0 + 0.5, 0.0, 1.0)


def softplus(x: Tensor) -> Tensor:
    return torch.log(torch.exp(x) + 1)


def softsign(x: Tensor) -> Tensor:
    return x / (1 + torch.abs(x))


def thresholded_relu(x: Tensor, alpha: float) -> Tensor:
    return torch.where(x > alpha, x, torch.zeros_like(x))


def shrink(x: Tensor, bias: float, lambd: float) -> Tensor:
    out = torch.where(x < -lambd, x + bias, torch.where(x > lambd, x - bias, torch.zeros_like(x)))
    return out.to(x.dtype)


def gelu(x: Tensor, approximate: str) -> Tensor:
    return F.gelu(x, approximate=approximate)


def mish(x: Tensor) -> Tensor:
    return x * torch.tanh(F.softplus(x))


def swish(x: Tensor, alpha: float) -> Tensor:
    return x * torch.sigmoid(alpha * x)


def prelu(x: Tensor, slope: Tensor) -> Tensor:
    return torch.where(x < 0, x * slope, x)


def erf(x: Tensor) -> Tensor:
    return torch.erf(x)


def swiglu(a: Tensor, b: Tensor, alpha: float) -> Tensor:
    # Y = Swish_alpha(A) * B, Swish_alpha(a) = a * sigmoid(alpha * a)
    return a * torch.sigmoid(alpha * a) * b
