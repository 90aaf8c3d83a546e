"""If, Loop and Scan as modules whose forward TorchScript compiles to real control flow.

Each body is a GraphModule taking one List[Tensor] (its formal inputs, then the outer
values it reads) and returning a List[Tensor].
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor, nn


class OnnxIf(nn.Module):
    def __init__(self, then_branch: nn.Module, else_branch: nn.Module) -> None:
        super().__init__()
        self.then_branch = then_branch
        self.else_branch = else_branch

    def forward(self, cond: Tensor, then_in: List[Tensor], else_in: List[Tensor]) -> List[Tensor]:
        if bool(cond.reshape(-1)[0]):
            return self.then_branch(then_in)
        return self.else_branch(else_in)


class OnnxLoop(nn.Module):
    def __init__(self, body: nn.Module, n_carried: int, n_scan: int) -> None:
        super().__init__()
        self.body = body
        self.n_carried = n_carried
        self.n_scan = n_scan

    def forward(
        self, trip: Optional[Tensor], cond: Optional[Tensor], carried: List[Tensor],
        captured: List[Tensor],
    ) -> List[Tensor]:
        # No trip count: run until the condition stops it (int64 max as the bound).
        limit = int(trip.item()) if trip is not None else 9223372036854775807
        keep = bool(cond.reshape(-1)[0]) if cond is not None else True
        scans: List[List[Tensor]] = [[] for _ in range(self.n_scan)]
        i = 0
        while i < limit and keep:
            step = [torch.tensor(i, dtype=torch.int64), torch.tensor(keep)]
            outs = self.body(step + carried + captured)
            keep = bool(outs[0].reshape(-1)[0])
            carried = outs[1 : 1 + self.n_carried]
            for k in range(self.n_scan):
                scans[k].append(outs[1 + self.n_carried + k])
            i += 1
        result = list(carried)
        for k in range(self.n_scan):
            result.append(torch.stack(scans[k]) if len(scans[k]) > 0 else torch.zeros([0]))
        return result


class OnnxScan(nn.Module):
    def __init__(
        self, body: nn.Module, n_states: int, in_axes: List[int], in_reverse: List[int],
        out_axes: List[int], out_reverse: List[int],
    ) -> None:
        super().__init__()
        self.body = body
        self.n_states = n_states
        self.in_axes = in_axes
        self.in_reverse = in_reverse
        self.out_axes = out_axes
        self.out_reverse = out_reverse

    def forward(
        self, states: List[Tensor], inputs: List[Tensor], captured: List[Tensor]
    ) -> List[Tensor]:
        axes = [a + inputs[j].dim() if a < 0 else a for j, a in enumerate(self.in_axes)]
        steps = inputs[0].shape[axes[0]]
        collected: List[List[Tensor]] = [[] for _ in self.out_axes]
        for t in range(steps):
            slices: List[Tensor] = []
            for j in range(len(inputs)):
                index = steps - 1 - t if self.in_reverse[j] == 1 else t
                slices.append(inputs[j].select(axes[j], index))
            outs = self.body(states + slices + captured)
            states = outs[: self.n_states]
            for k in range(len(self.out_axes)):
                collected[k].append(outs[self.n_states + k])
        result = list(states)
        for k in range(len(self.out_axes)):
            items = collected[k]
            if self.out_reverse[k] == 1:
                items.reverse()
            axis = self.out_axes[k]
            axis = axis + items[0].dim() + 1 if axis < 0 else axis
            result.append(torch.stack(items, axis))
        return result
