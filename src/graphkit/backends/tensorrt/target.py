"""TensorRT through its ONNX parser: the operator matrix in opsets/tensorrt.toml.

The version is part of the target: `tensorrt` is 11.5 (opsets 9-25), `tensorrt@10.15` the
10.15 table (opsets 9-24), `tensorrt@10.1` the 10.1 table (opsets 9-20). Global dtype
rules are data too: float64 is cast down (warning), int8/int4/fp8/fp4 enter only through
Q/DQ, uint8 only at network inputs and outputs.

What "convertible" means here: TensorRT's ONNX parser, at that version, accepts every node
(op listed, its dtypes and documented restrictions met) and the model's opset is inside
the version's range, so that `trtexec --onnx` parses the network. Whether the engine then
builds for a given GPU and optimization profile (memory, tactics, plugins) is beyond what
the parser's support matrix states; graphkit checks no more than that matrix.
"""

from __future__ import annotations

from graphkit.findings import Severity
from graphkit.targets._data import load_target_data
from graphkit.targets._table import TableTarget
from graphkit.targets.checks import GenericChecks

DEFAULT_VERSION = "11.5"


class TensorRTTarget(TableTarget):
    def __init__(self, version: str = DEFAULT_VERSION) -> None:
        data = load_target_data("tensorrt")
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
