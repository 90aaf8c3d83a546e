"""Shared test helpers: models from ONNX text, running them with ONNX Runtime, graphkit's
CLI in a process of its own, and the scripts under tools/."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort
import pytest


def model_from_text(text: str) -> ir.Model:
    proto = onnx.parser.parse_model(text)
    onnx.checker.check_model(proto)
    return ir.serde.deserialize_model(proto)


def run_ort(model: ir.Model | onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    proto = model if isinstance(model, onnx.ModelProto) else ir.to_proto(model)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def ops(model: ir.Model) -> list[str]:
    return [node.op_type for node in model.graph]


def run_graphkit(*args: str | Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """graphkit as users run it, in a process of its own (stdout and stderr as text); the
    timeout only guards the suite against a hang."""
    return subprocess.run([sys.executable, "-m", "graphkit", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


TOOLS = Path(__file__).resolve().parents[1] / "tools"


def load_tool(name: str) -> ModuleType:
    """The script tools/<name>.py, imported as a module (as graphkit_<name>)."""
    spec = importlib.util.spec_from_file_location(f"graphkit_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def require(module: str, extra: str):
    """An optional dependency, imported. Where it is missing the test is skipped, naming the
    extra that brings it; .ci/run installs every extra and sets GRAPHKIT_ALL_EXTRAS=1, and
    there a missing module fails the test instead of skipping it."""
    if os.environ.get("GRAPHKIT_ALL_EXTRAS") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(
        module, reason=f"{module} comes with the '{extra}' extra: pip install -e '.[{extra}]'")


def tensorrt_import_error() -> str | None:
    """Why `import tensorrt` fails here, or None when it imports."""
    try:
        importlib.import_module("tensorrt")
    except ImportError as err:
        return str(err) or type(err).__name__
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The one skip CI allows besides none: a test marked requires_tensorrt where the
    `tensorrt` package cannot be imported. TensorRT is no graphkit extra (its wheels fetch
    NVIDIA's libraries from outside PyPI), so .ci/run cannot install it and
    GRAPHKIT_ALL_EXTRAS does not cover it; anything else that fails inside such a test
    (no GPU once tensorrt imports, a build error) fails, never skips."""
    if item.get_closest_marker("requires_tensorrt") is None:
        return
    why = tensorrt_import_error()
    if why is not None:
        pytest.skip(f"requires_tensorrt: tensorrt cannot be imported ({why})")
