"""TensorRT through its ONNX parser: the operator matrix in opsets/tensorrt.toml.

The version is part of the target: `tensorrt` is the table's `default_version` (the newest
it covers: 11.5, opsets 9-25), `tensorrt@10.15` and `tensorrt@10.1` the older tables; each
version's opset range is data too. So are global dtype rules: float64 is cast down
(warning), int8/int4/fp8/fp4 enter only through
Q/DQ, uint8 only at network inputs and outputs.

What "convertible" means here: TensorRT's ONNX parser, at that version, accepts every node
(op listed, its dtypes and documented restrictions met) and the model's opset is inside
the version's range, so that `trtexec --onnx` parses the network. Whether the engine then
builds for a given GPU and optimization profile (memory, tactics, plugins) is beyond what
the parser's support matrix states; graphkit checks no more than that matrix.

Model-level facts besides the matrix (_engine_facts.py): TensorRT 11 networks are strongly
typed, so a float32 graph builds a float32 engine (GK204: info, or a warning with the
float16 fix when the user asks for FP16), and every input with dynamic dims needs an
optimization profile (GK307, info).
"""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from graphkit.backends.tensorrt._engine_facts import precision_finding, profile_finding
from graphkit.findings import Finding, Severity
from graphkit.targets._data import load_target_data
from graphkit.targets._table import TableTarget
from graphkit.targets.checks import GenericChecks

PRECISIONS = ("fp32", "fp16")


def default_version() -> str:
    """The TensorRT version `tensorrt` means (opsets/tensorrt.toml's default_version)."""
    return load_target_data("tensorrt").default_version


class TensorRTTarget(TableTarget):
    """`version` None: the table's default_version. `precision`: what the user wants the
    engine in (None: not asked); asking for fp16 of a float32 graph turns GK204 into a
    warning whose fix is the float16 rewrite."""

    def __init__(self, version: str | None = None, precision: str | None = None) -> None:
        if precision is not None and precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: use one of {PRECISIONS}")
        data = load_target_data("tensorrt")
        version = version or data.default_version
        name = "tensorrt" if version == data.default_version else f"tensorrt@{version}"
        super().__init__(
            data,
            version=version,
            name=name,
            label=f"TensorRT {version}",
            # float64 anywhere (a Cast to double, say) is cast down by the parser: lossy.
            generic=GenericChecks(float64=Severity.WARNING),
        )
        self.description = f"{data.description} (version {version})"
        self.precision = precision

    @property
    def strongly_typed(self) -> bool:
        """TensorRT 11 removed the precision builder flags: the ONNX types are the precision."""
        return int(self.version.split(".")[0]) >= 11

    def check_model(self, model: ir.Model) -> list[Finding]:
        found = super().check_model(model)
        facts = [profile_finding(model)]
        if self.strongly_typed:
            facts.insert(0, precision_finding(model, self.precision))
        return found + [dataclasses.replace(f, target=self.name) for f in facts if f is not None]
