"""The ONNX backend test corpus, and bit-level comparison of ONNX Runtime outputs.

Cases: every model under onnx/backend/test/data/ (inputs from its test_data_set_0; the
`light_*` models ship no inputs, so they get seeded random ones) and every node test case
from onnx.backend.test.case.node.collect_testcases (its own first data set).
"""

from __future__ import annotations

import ctypes
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from graphkit.ir._sparse import graph_protos

DATA_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data"


@dataclass
class Case:
    name: str
    path: Path | None  # a file in the onnx wheel, loaded from where it lies
    proto: onnx.ModelProto | None  # a node test case, built in memory
    inputs: list[Any]


def corpus() -> Iterator[Case]:
    yield from _data_dir_cases()
    yield from _node_cases()


def _data_dir_cases() -> Iterator[Case]:
    for path in sorted(DATA_DIR.glob("*/*/model.onnx")):
        files = sorted(path.parent.glob("test_data_set_0/input_*.pb"), key=_index)
        yield Case(f"data/{path.parent.name}", path, None, [_read_tensor(f) for f in files])
    for path in sorted(DATA_DIR.glob("light/*.onnx")):
        model = onnx.load(path, load_external_data=False)
        yield Case(f"light/{path.stem}", path, None, _random_inputs(model))


def _node_cases() -> Iterator[Case]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():  # the case generators overflow casts on purpose
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    for case in cases:
        inputs = list(case.data_sets[0][0]) if case.data_sets else []
        yield Case(f"node/{case.name}", None, case.model, inputs)


def _index(path: Path) -> int:
    return int(path.stem.rsplit("_", 1)[1])


def _read_tensor(path: Path) -> np.ndarray:
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def _random_inputs(model: onnx.ModelProto) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        shape = [dim.dim_value or 1 for dim in tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        inputs.append(rng.standard_normal(shape).astype(dtype))
    return inputs


# --- running with ONNX Runtime ------------------------------------------------------------


def session(model_bytes: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 1  # deterministic reductions, and polite on shared CPUs
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, proto: onnx.ModelProto, inputs: list[Any]) -> list[Any]:
    """Outputs as comparable values; dtypes numpy cannot hand to ORT go through OrtValues."""
    initializers = {tensor.name for tensor in proto.graph.initializer}
    names = [value.name for value in proto.graph.input if value.name not in initializers]
    feeds = {
        name: _feed(value) for name, value in zip(names, inputs, strict=False) if value is not None
    }
    numeric = all(_tensor_of_numbers(value) for value in feeds.values())
    if not (numeric and any(_needs_ort_value(value) for value in feeds.values())):
        try:
            return sess.run(None, feeds)
        except Exception as err:
            if not numeric or "Numpy" not in str(err):  # an output numpy has no dtype for
                raise
    ort_feeds = {name: _ort_value(value) for name, value in feeds.items()}
    return [_fingerprint(value) for value in sess.run_with_ort_values(None, ort_feeds)]


def _feed(value: Any) -> Any:
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if isinstance(value, list):
        return [_feed(item) for item in value]
    return value if isinstance(value, dict) else np.asarray(value)


def _tensor_of_numbers(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind not in "OUS"


def _needs_ort_value(value: Any) -> bool:
    """bfloat16, float8, int4 and kin: ml_dtypes arrays that ORT's numpy bridge rejects."""
    return value.dtype.type.__module__.startswith("ml_dtypes")


def _ort_value(value: Any) -> ort.OrtValue:
    if not _needs_ort_value(value):
        return ort.OrtValue.ortvalue_from_numpy(value)
    element_type = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
    bits = {1: np.uint8, 2: np.uint16}[value.dtype.itemsize]
    return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(value.view(bits), element_type)


def _fingerprint(value: ort.OrtValue) -> Any:
    """(type, shape, raw bytes) for tensors: works for dtypes numpy lacks (float8, int4)."""
    if not value.is_tensor() or value.data_type() == "tensor(string)":
        return value.numpy()
    data = ctypes.string_at(value.data_ptr(), value.tensor_size_in_bytes())
    return (value.data_type(), tuple(value.shape()), data)


def same_bits(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (list, tuple)) and not isinstance(expected, np.ndarray):
        return (
            type(expected) is type(actual)
            and len(expected) == len(actual)
            and all(same_bits(a, b) for a, b in zip(expected, actual, strict=True))
        )
    if isinstance(expected, (dict, bytes, str)) or expected is None:
        return expected == actual
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.dtype != actual.dtype or expected.shape != actual.shape:
        return False
    if expected.dtype == object:
        return expected.tolist() == actual.tolist()
    return expected.tobytes() == actual.tobytes()


# --- structure ----------------------------------------------------------------------------


def structure_lost(original: onnx.ModelProto, saved: onnx.ModelProto) -> str | None:
    """What the saved model lacks, or None. Ignored: fields explicitly set to their default
    (proto2 keeps that presence bit; it carries no meaning), opset_import order, and value_info
    entries the saved model adds. Every original value_info entry must survive."""
    original, saved = _canonical(original), _canonical(saved)
    for kept, got in zip(graph_protos(original.graph), graph_protos(saved.graph), strict=True):
        missing = {info.name for info in kept.value_info} - {info.name for info in got.value_info}
        if missing:
            return f"value_info lost: {sorted(missing)[:3]}"
        got_info = {info.name: info for info in got.value_info}
        if any(got_info[info.name] != info for info in kept.value_info):
            return "value_info changed"
    for proto in (original, saved):
        for graph in graph_protos(proto.graph):
            del graph.value_info[:]
    if original == saved:
        return None
    for field, _ in original.ListFields():
        if getattr(original, field.name) != getattr(saved, field.name):
            return f"field '{field.name}' differs"
    return "fields only the saved model has"


def _canonical(proto: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    _strip_defaults(copy)
    imports = sorted(copy.opset_import, key=lambda entry: (entry.domain, entry.version))
    del copy.opset_import[:]
    copy.opset_import.extend(imports)
    return copy


def _strip_defaults(message: Any) -> None:
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            if not field.is_repeated and value == field.default_value:
                message.ClearField(field.name)
            continue
        if field.is_repeated:
            for item in value:
                _strip_defaults(item)
        else:
            _strip_defaults(value)


def short(err: BaseException) -> str:
    text = (str(err).strip() or type(err).__name__).splitlines()[0]
    return re.sub(r"\[ONNXRuntimeError\] : \d+ : ", "", text)[:160]
