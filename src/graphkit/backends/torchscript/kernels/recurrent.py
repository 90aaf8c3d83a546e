"""RNN, GRU and LSTM as loops over time, written from the ONNX operator formulas.

The input projection X*W^T + Wb of every step is one matmul up front; only the
recurrent term H*R^T runs per step. Sequence length and batch are read at run time,
so scripting keeps them dynamic. Each direction has its own activations: names
resolved at lowering time (lower case) with their alpha/beta, `per_dir` of them.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor


def activate(x: Tensor, name: str, alpha: float, beta: float) -> Tensor:
    """The activation functions ONNX allows in recurrent ops (names in lower case)."""
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "relu":
        return torch.relu(x)
    if name == "affine":
        return alpha * x + beta
    if name == "leakyrelu":
        return torch.where(x >= 0, x, x * alpha)
    if name == "thresholdedrelu":
        return torch.where(x > alpha, x, torch.zeros_like(x))
    if name == "scaledtanh":
        return alpha * torch.tanh(beta * x)
    if name == "hardsigmoid":
        return torch.clamp(alpha * x + beta, 0.0, 1.0)
    if name == "elu":
        return torch.where(x > 0, x, alpha * (torch.exp(x) - 1))
    if name == "softsign":
        return x / (1 + torch.abs(x))
    if name == "softplus":
        return torch.log(torch.exp(x) + 1)
    raise RuntimeError("unknown recurrent activation " + name)


def _gate(x: Tensor, clip: Optional[float], acts: List[str], alphas: List[float],
          betas: List[float], index: int) -> Tensor:
    """Activation `index` of this direction, applied after the optional clip."""
    if clip is not None:
        x = torch.clamp(x, -clip, clip)
    return activate(x, acts[index], alphas[index], betas[index])


def _rnn_step(gx: Tensor, h: Tensor, r: Tensor, rb: Tensor, clip: Optional[float],
              acts: List[str], alphas: List[float], betas: List[float]) -> Tensor:
    # Ht = f(Xt*Wi^T + Ht-1*Ri^T + Wbi + Rbi)
    return _gate(gx + h @ r.t() + rb, clip, acts, alphas, betas, 0)


def _gru_step(gx: Tensor, h: Tensor, r: Tensor, rb: Tensor, clip: Optional[float],
              acts: List[str], alphas: List[float], betas: List[float],
              linear_before_reset: int) -> Tensor:
    hidden = h.size(1)
    xz, xr, xh = gx[:, :hidden], gx[:, hidden:2 * hidden], gx[:, 2 * hidden:]
    hzr = h @ r[: 2 * hidden].t() + rb[: 2 * hidden]
    z = _gate(xz + hzr[:, :hidden], clip, acts, alphas, betas, 0)
    reset = _gate(xr + hzr[:, hidden:], clip, acts, alphas, betas, 0)
    rh, rbh = r[2 * hidden:], rb[2 * hidden:]
    if linear_before_reset != 0:
        # ht = g(Xt*Wh^T + Wbh + rt (.) (Ht-1*Rh^T + Rbh))
        pre = xh + reset * (h @ rh.t() + rbh)
    else:
        # ht = g(Xt*Wh^T + Wbh + (rt (.) Ht-1)*Rh^T + Rbh)
        pre = xh + (reset * h) @ rh.t() + rbh
    candidate = _gate(pre, clip, acts, alphas, betas, 1)
    return (1 - z) * candidate + z * h


def _lstm_step(gx: Tensor, h: Tensor, c: Tensor, r: Tensor, rb: Tensor, p: Tensor,
               clip: Optional[float], acts: List[str], alphas: List[float],
               betas: List[float], input_forget: int) -> Tuple[Tensor, Tensor]:
    hidden = h.size(1)
    g = gx + h @ r.t() + rb  # gates in ONNX order i, o, f, c
    gi, go = g[:, :hidden], g[:, hidden:2 * hidden]
    gf, gc = g[:, 2 * hidden:3 * hidden], g[:, 3 * hidden:]
    pi, po, pf = p[:hidden], p[hidden:2 * hidden], p[2 * hidden:]
    i = _gate(gi + pi * c, clip, acts, alphas, betas, 0)
    # input_forget couples the gates: ft = 1 - it
    f = 1 - i if input_forget != 0 else _gate(gf + pf * c, clip, acts, alphas, betas, 0)
    c_new = f * c + i * _gate(gc, clip, acts, alphas, betas, 1)
    o = _gate(go + po * c_new, clip, acts, alphas, betas, 0)
    return o * _gate(c_new, None, acts, alphas, betas, 2), c_new


def _direction(kind: str, gx: Tensor, h: Tensor, c: Tensor, r: Tensor, rb: Tensor,
               p: Tensor, lens: Optional[Tensor], reverse: bool, clip: Optional[float],
               acts: List[str], alphas: List[float], betas: List[float],
               flag: int) -> Tuple[Tensor, Tensor, Tensor]:
    """One direction over all steps: (Y [T, B, H], last H, last C).

    With sequence_lens, steps at t >= len leave the state as it was and write zeros to
    Y; a reverse pass therefore starts at each batch entry's own last step."""
    steps = gx.size(0)
    ys: List[Tensor] = []
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        c_new = c
        if kind == "LSTM":
            h_new, c_new = _lstm_step(gx[t], h, c, r, rb, p, clip, acts, alphas, betas, flag)
        elif kind == "GRU":
            h_new = _gru_step(gx[t], h, r, rb, clip, acts, alphas, betas, flag)
        else:
            h_new = _rnn_step(gx[t], h, r, rb, clip, acts, alphas, betas)
        if lens is not None:
            valid = (lens > t).unsqueeze(1)
            h_new = torch.where(valid, h_new, h)
            c_new = torch.where(valid, c_new, c)
            ys.append(torch.where(valid, h_new, torch.zeros_like(h_new)))
        else:
            ys.append(h_new)
        h, c = h_new, c_new
    if reverse:
        ys.reverse()
    return torch.stack(ys), h, c


def _state(value: Optional[Tensor], dirs: int, batch: int, hidden: int, layout: int,
           like: Tensor) -> Tensor:
    """An initial state as [directions, batch, hidden]; zeros when not given."""
    if value is None:
        return torch.zeros([dirs, batch, hidden], dtype=like.dtype, device=like.device)
    return value.transpose(0, 1) if layout == 1 else value


def recurrent(kind: str, x: Tensor, w: Tensor, r: Tensor, b: Optional[Tensor],
              lens: Optional[Tensor], h0: Optional[Tensor], c0: Optional[Tensor],
              p: Optional[Tensor], direction: str, layout: int, clip: Optional[float],
              acts: List[str], alphas: List[float], betas: List[float],
              flag: int) -> Tuple[Tensor, Tensor, Tensor]:
    """RNN/GRU/LSTM (kind): returns Y, Y_h, Y_c (Y_c is zeros except for LSTM).

    flag is linear_before_reset for GRU and input_forget for LSTM."""
    if layout == 1:
        x = x.transpose(0, 1)
    dirs, hidden = w.size(0), r.size(2)
    batch = x.size(1)
    h_all = _state(h0, dirs, batch, hidden, layout, x)
    c_all = _state(c0, dirs, batch, hidden, layout, x)
    if (kind == "LSTM" and direction != "reverse" and clip is None and flag == 0
            and p is None and lens is None and acts == ["sigmoid", "tanh", "tanh"] * dirs):
        y, h, c = _fused_lstm(x, w, r, b, h_all, c_all)
        return _outputs(y, h, c, layout)
    per_dir = len(acts) // dirs
    ys: List[Tensor] = []
    hs: List[Tensor] = []
    cs: List[Tensor] = []
    for d in range(dirs):
        gates = w.size(1)
        wb = torch.zeros([gates], dtype=x.dtype) if b is None else b[d, :gates]
        rb = torch.zeros([gates], dtype=x.dtype) if b is None else b[d, gates:]
        peep = torch.zeros([3 * hidden], dtype=x.dtype) if p is None else p[d]
        gx = x @ w[d].t() + wb
        reverse = direction == "reverse" or d == 1
        span = slice_list(acts, alphas, betas, d * per_dir, per_dir)
        y, h, c = _direction(kind, gx, h_all[d], c_all[d], r[d], rb, peep, lens, reverse, clip,
                             span[0], span[1], span[2], flag)
        ys.append(y)
        hs.append(h)
        cs.append(c)
    return _outputs(torch.stack(ys, 1), torch.stack(hs), torch.stack(cs), layout)


def _fused_lstm(x: Tensor, w: Tensor, r: Tensor, b: Optional[Tensor], h0: Tensor,
                c0: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """The LSTM torch runs as one fused op (ATen's), for the plain form: the default
    activations, no clip, peepholes, input_forget or sequence_lens, forward or both ways.
    About twice as fast as the loop on small models, where per-step overhead dominates.

    Only the gate order differs: ONNX stacks i, o, f, c; torch i, f, c, o."""
    dirs, hidden = w.size(0), r.size(2)
    params: List[Tensor] = []
    for d in range(dirs):
        params.append(_torch_gate_order(w[d], hidden))
        params.append(_torch_gate_order(r[d], hidden))
        if b is not None:
            params.append(_torch_gate_order(b[d, : 4 * hidden], hidden))
            params.append(_torch_gate_order(b[d, 4 * hidden:], hidden))
    y, h, c = torch.lstm(x, [h0, c0], params, b is not None, 1, 0.0, False, dirs == 2, False)
    # torch: [T, B, D*H] -> ONNX: [T, D, B, H]
    y = y.view(x.size(0), x.size(1), dirs, hidden).permute(0, 2, 1, 3)
    return y, h, c


def _torch_gate_order(stacked: Tensor, hidden: int) -> Tensor:
    """Rows i, o, f, c (ONNX) -> i, f, c, o (torch)."""
    return torch.cat([stacked[:hidden], stacked[2 * hidden:], stacked[hidden:2 * hidden]])


def slice_list(acts: List[str], alphas: List[float], betas: List[float], start: int,
               count: int) -> Tuple[List[str], List[float], List[float]]:
    end = start + count
    return acts[start:end], alphas[start:end], betas[start:end]


def _outputs(y: Tensor, h: Tensor, c: Tensor, layout: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Y [T, D, B, H], Y_h/Y_c [D, B, H]; layout 1 puts batch first in all three."""
    if layout == 1:
        return y.permute(2, 0, 1, 3), h.transpose(0, 1), c.transpose(0, 1)
    return y, h, c
