"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor


def nll_loss(
    scores: Tensor, target: Tensor, weight: Optional[Tensor], reduction: str, ignore_index: int,
    has_ignore: bool,
) -> Tensor:
    labels = target.to(torch.int64)
    ignored = labels == ignore_index if has_ignore else torch.zeros_like(labels, dtype=torch.bool)
    safe = torch.where(ignored, torch.zeros_like(labels), labels)
    picked = -torch.gather(scores, 1, safe.unsqueeze(1)).squeeze(1)
    if weight is not None:  # noqa: SIM108 - kept a statement: TorchScript refines Optional here
        w = weight[safe]
    else:
        w = torch.ones_like(picked)
    w = torch.where(ignored, torch.zeros_like(w), w)
    loss = picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return torch.sum(loss)
    if weight is None and not has_ignore:
        return torch.mean(loss)
    return torch.sum(loss) / torch.sum(w)


def softmax_cross_entropy(
    scores: Tensor, labels: Tensor, weight: Optional[Tensor], reduction: str, ignore_index: int,
    has_ignore: bool,
) -> Tuple[Tensor, Tensor]:
    log_prob = torch.log_softmax(scores, 1)
    return nll_loss(log_prob, labels, weight, reduction, ignore_index, has_ignore), log_prob
