"""TensorRT 10.x through its ONNX parser: the operator matrix in opsets/tensorrt.toml.

The version is part of the target: `tensorrt` is the table's `default_version` (the newest
it covers), `tensorrt@10.1` the 10.1 table; each version's opset range is data too. So are
global dtype rules: float64 is cast down (warning), int8/int4/fp8/fp4 enter only through
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


class TensorRTTarget(TableTarget):
    def __init__(self, version: str | None = None) -> None:
        """`version` None: the table's default_version (opsets/tensorrt.toml says which)."""
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
