"""Float functions without a builtin of their own, composed of builtins that have one:
Tan = sin / cos; Sinh, Cosh from EXP; Asin, Acos, Atan from ATAN2; Asinh, Acosh, Atanh
from LOG (Asinh as sign(x) log(|x| + sqrt(x^2 + 1)), which loses nothing for negative x).
Each keeps its input's layout."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx_ir as ir

from graphkit.backends.tflite._flatbuffer import options
from graphkit.backends.tflite.lowering._base import EmitContext, Lowering, entry

KINDS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}


class _Steps:
    """Temporaries of the output's shape and layout, one builtin each."""

    def __init__(self, ctx: EmitContext, node: ir.Node) -> None:
        self.ctx, self.node = ctx, node
        self.perm = ctx.perm_of(node.inputs[0])
        self.x = ctx.input(node.inputs[0], self.perm)
        self.shape = ctx._stored_shape(node.outputs[0], self.perm)

    def __call__(self, builtin: str, *inputs: int | float, last: bool = False) -> int:
        tensors = [self.ctx.const(np.asarray(v, np.float32)) if isinstance(v, float) else v
                   for v in inputs]
        out = self.ctx.output(self.node.outputs[0], self.perm) if last \
            else self.ctx.temp(builtin.lower(), np.float32, self.shape)
        made = options(KINDS[builtin]) if builtin in KINDS else None
        self.ctx.op(builtin, tensors, [out], made)
        return out


def _tan(s: _Steps) -> None:
    s("DIV", s("SIN", s.x), s("COS", s.x), last=True)


def _sinh_cosh(combine: str) -> Callable[[_Steps], None]:
    def compose(s: _Steps) -> None:
        both = s(combine, s("EXP", s.x), s("EXP", s("NEG", s.x)))
        s("MUL", both, 0.5, last=True)

    return compose


def _root_one_minus_square(s: _Steps) -> int:
    return s("SQRT", s("SUB", 1.0, s("MUL", s.x, s.x)))


def _asin(s: _Steps) -> None:
    s("ATAN2", s.x, _root_one_minus_square(s), last=True)


def _acos(s: _Steps) -> None:
    s("ATAN2", _root_one_minus_square(s), s.x, last=True)


def _atan(s: _Steps) -> None:
    ones = s("ADD", s("MUL", s.x, 0.0), 1.0)  # ATAN2 takes no broadcast
    s("ATAN2", s.x, ones, last=True)


def _asinh(s: _Steps) -> None:
    size = s("ABS", s.x)
    root = s("SQRT", s("ADD", s("MUL", s.x, s.x), 1.0))
    s("MUL", s("SIGN", s.x), s("LOG", s("ADD", size, root)), last=True)


def _acosh(s: _Steps) -> None:
    root = s("SQRT", s("SUB", s("MUL", s.x, s.x), 1.0))
    s("LOG", s("ADD", s.x, root), last=True)


def _atanh(s: _Steps) -> None:
    ratio = s("DIV", s("ADD", 1.0, s.x), s("SUB", 1.0, s.x))
    s("MUL", s("LOG", ratio), 0.5, last=True)


COMPOSED: dict[str, tuple[tuple[str, ...], Callable[[_Steps], None]]] = {
    "Tan": (("SIN", "COS", "DIV"), _tan),
    "Sinh": (("EXP", "NEG", "SUB", "MUL"), _sinh_cosh("SUB")),
    "Cosh": (("EXP", "NEG", "ADD", "MUL"), _sinh_cosh("ADD")),
    "Asin": (("MUL", "SUB", "SQRT", "ATAN2"), _asin),
    "Acos": (("MUL", "SUB", "SQRT", "ATAN2"), _acos),
    "Atan": (("MUL", "ADD", "ATAN2"), _atan),
    "Asinh": (("ABS", "MUL", "ADD", "SQRT", "LOG", "SIGN"), _asinh),
    "Acosh": (("MUL", "SUB", "SQRT", "ADD", "LOG"), _acosh),
    "Atanh": (("ADD", "SUB", "DIV", "LOG", "MUL"), _atanh),
}


def _emit(compose: Callable[[_Steps], None]):
    def emit(ctx: EmitContext, node: ir.Node) -> None:
        compose(_Steps(ctx, node))

    return emit


def entries() -> dict[str, list[Lowering]]:
    return {op: [entry(builtins, _emit(compose))] for op, (builtins, compose) in COMPOSED.items()}
