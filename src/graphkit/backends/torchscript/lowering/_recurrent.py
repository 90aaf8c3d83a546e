"""Lowering entries: the recurrent ops RNN, GRU and LSTM (kernels/recurrent.py).

Activation names and their alpha/beta are resolved here, once, so the kernel gets
plain lists: one activation per gate function and direction, forward first.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from graphkit.backends.torchscript.kernels import recurrent as rc
from graphkit.backends.torchscript.lowering._base import (
    EmitContext,
    Lowering,
    attr,
    attr_floats,
    attr_int,
    attr_str,
)

# float16 is left out: ONNX Runtime, which every artifact is checked against, has no
# float16 kernels for these ops.
RECURRENT_DTYPES = frozenset({ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.INT32})
DIRECTIONS = ("forward", "reverse", "bidirectional")
# The ONNX default activations of each op, per direction (f, g, h in the spec's terms).
DEFAULT_ACTIVATIONS = {
    "RNN": ("Tanh",),
    "GRU": ("Sigmoid", "Tanh"),
    "LSTM": ("Sigmoid", "Tanh", "Tanh"),
}
# Activation (lower case) -> (default alpha, default beta). None: the function takes no
# such parameter, so it consumes no entry of activation_alpha/beta. NEEDED: no default
# we can trust, so the node must give the value: Affine and ScaledTanh have no ONNX
# operator to take defaults from, and for ThresholdedRelu ONNX Runtime does not use the
# operator's 1.0 that the spec names.
NEEDED = float("nan")
ACTIVATION_PARAMS: dict[str, tuple[float | None, float | None]] = {
    "sigmoid": (None, None),
    "tanh": (None, None),
    "relu": (None, None),
    "softsign": (None, None),
    "softplus": (None, None),
    "affine": (NEEDED, NEEDED),
    "leakyrelu": (0.01, None),
    "thresholdedrelu": (NEEDED, None),
    "scaledtanh": (NEEDED, NEEDED),
    "hardsigmoid": (0.2, 0.5),
    "elu": (1.0, None),
}


def _directions(node: ir.Node) -> int:
    return 2 if attr_str(node, "direction", "forward") == "bidirectional" else 1


def _activation_names(node: ir.Node) -> list[str]:
    given = [a.decode() if isinstance(a, bytes) else str(a) for a in attr(node, "activations", [])]
    return given or list(DEFAULT_ACTIVATIONS[node.op_type]) * _directions(node)


def resolve_activations(node: ir.Node) -> tuple[list[str], list[float], list[float]]:
    """Names in lower case with each one's alpha and beta; given values are consumed in
    order by the functions that take them, the rest use the defaults."""
    alphas = iter(attr_floats(node, "activation_alpha"))
    betas = iter(attr_floats(node, "activation_beta"))
    names, alpha_values, beta_values = [], [], []
    for name in (n.lower() for n in _activation_names(node)):
        alpha, beta = ACTIVATION_PARAMS[name]
        names.append(name)
        alpha_values.append(0.0 if alpha is None else next(alphas, alpha))
        beta_values.append(0.0 if beta is None else next(betas, beta))
    return names, alpha_values, beta_values


def _missing_parameter(node: ir.Node) -> str | None:
    _, alphas, betas = resolve_activations(node)
    for name, alpha, beta in zip(_activation_names(node), alphas, betas, strict=True):
        if math.isnan(alpha) or math.isnan(beta):
            return (f"{node.op_type} activation '{name}' needs its alpha/beta given in "
                    "activation_alpha/activation_beta (no default that ONNX Runtime shares)")
    return None


def _check(node: ir.Node, opset: int) -> str | None:
    direction = attr_str(node, "direction", "forward")
    if direction not in DIRECTIONS:
        return f"{node.op_type} direction '{direction}' is not one ONNX defines"
    if attr_int(node, "layout", 0) not in (0, 1):
        return f"{node.op_type} layout {attr_int(node, 'layout', 0)} is not 0 or 1"
    names = _activation_names(node)
    unknown = [n for n in names if n.lower() not in ACTIVATION_PARAMS]
    if unknown:
        return f"{node.op_type} activation '{unknown[0]}' is not one the recurrent ops allow"
    wanted = len(DEFAULT_ACTIVATIONS[node.op_type]) * _directions(node)
    if len(names) != wanted:
        return (f"{node.op_type} ({direction}) needs {wanted} activations, "
                f"the node lists {len(names)}")
    return _missing_parameter(node)


def _emit(cx: EmitContext, node: ir.Node) -> list:
    # ONNX input order: X, W, R, B, sequence_lens, initial_h, then initial_c, P for LSTM.
    x, w, r, b, lens, h0, c0, p = cx.inputs(node, 8)
    clip = attr(node, "clip")
    names, alphas, betas = resolve_activations(node)
    flag_name = "input_forget" if node.op_type == "LSTM" else "linear_before_reset"
    args = [node.op_type, x, w, r, b, lens, h0, c0, p, attr_str(node, "direction", "forward"),
            attr_int(node, "layout", 0), None if clip is None else float(clip), names, alphas,
            betas, attr_int(node, flag_name, 0)]
    return cx.call(rc.recurrent, args, 3)[: len(node.outputs)]


def entries() -> dict[str, tuple[Lowering, ...]]:
    # Opset 7 is where all three took their current form (earlier ones had
    # output_sequence, and GRU-1/3 other differences).
    return {
        op: (Lowering(_emit, since=7, dtypes=RECURRENT_DTYPES, check=_check),)
        for op in ("RNN", "GRU", "LSTM")
    }
