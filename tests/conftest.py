"""Shared test helpers: models from ONNX text, and running them with ONNX Runtime."""

from __future__ import annotations

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


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
