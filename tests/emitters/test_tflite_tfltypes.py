"""The TFLite lowering on element types and empty tensors: values without elements,
reductions of nothing, float64 where LiteRT's kernels run it, integer division. Each
emitted .tflite runs in LiteRT on real inputs and is compared with ONNX Runtime (or onnx's
reference evaluator where ORT has no kernel), and diagnose --target tflite says the same
as the emitter."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import model_from_text, require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402


def _reference(text: str, feeds: dict[str, np.ndarray], evaluator: bool) -> list[np.ndarray]:
    model = model_from_text(text)
    if not evaluator:
        return run_ort(model, feeds)
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(onnx.parser.parse_model(text)).run(None, feeds)


def _emitted_matches(tmp_path, text: str, feeds: dict[str, np.ndarray],
                     evaluator: bool = False) -> dict[str, int]:
    """The model converts, diagnose agrees, and every output matches the reference
    exactly (shape, type and values): the builtins the file holds, by count."""
    model = model_from_text(text)
    assert graphkit.diagnose(model, "tflite").blockers == []
    artifact = emit(model, tmp_path / "m.tflite")
    got = run_artifact(artifact.path, feeds)
    want = _reference(text, feeds, evaluator)
    for value, expected in zip(model.graph.outputs, want, strict=True):
        actual = got[value.name]
        assert actual.shape == expected.shape, value.name
        assert actual.dtype == expected.dtype, value.name
        np.testing.assert_array_equal(actual, expected, err_msg=value.name)
    return artifact.metadata["builtins"]


def _refused(text: str, words: str) -> None:
    """Diagnose blocks the model and the emitter refuses it, saying why."""
    model = model_from_text(text)
    assert graphkit.diagnose(model, "tflite").blockers
    with pytest.raises(InputError, match=words):
        emit(model, "never.tflite")


# Empty tensors ------------------------------------------------------------------------

EMPTY_REDUCE = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,0,4] x, int64[1] axes) => (float{out} y) {{
    y = {op}<keepdims={keep}>(x, axes)
}}"""


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin",
                                "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"])
@pytest.mark.parametrize(("axes", "keep", "out"), [([1], 1, "[2,1,4]"), ([1], 0, "[2,4]")])
def test_reduction_of_nothing_is_its_identity(tmp_path, op, axes, keep, out):
    """Every output element reduces an empty set (0, 1, -inf, +inf, ...), whichever axes
    the run gives: written as a constant."""
    text = EMPTY_REDUCE.format(op=op, keep=keep, out=out)
    feeds = {"x": np.zeros((2, 0, 4), np.float32), "axes": np.asarray(axes, np.int64)}
    _emitted_matches(tmp_path, text, feeds)


EMPTY_SUM_RUN_TIME = """<ir_version: 9, opset_import: ["" : 18]>
g (float[2,0,4] x, int64[1] axes) => (float[a,b,c] y) {
    magnitude = Abs(x)
    y = ReduceSum<keepdims=1>(magnitude, axes)
}"""


def test_sum_of_nothing_with_an_unknown_output_shape_runs_in_the_kernel(tmp_path):
    """The output's shape waits for the run's axes, so nothing folds: LiteRT's SUM of an
    empty set is 0, as ONNX's is."""
    feeds = {"x": np.zeros((2, 0, 4), np.float32), "axes": np.asarray([1], np.int64)}
    ops = _emitted_matches(tmp_path, EMPTY_SUM_RUN_TIME, feeds)
    assert "SUM" in ops


def test_max_of_nothing_with_an_unknown_output_shape_is_refused():
    """REDUCE_MAX of nothing gives the lowest finite float, ONNX -inf."""
    text = EMPTY_SUM_RUN_TIME.replace("ReduceSum", "ReduceMax")
    _refused(text, "'magnitude' has no elements")


EMPTY_OUTPUTS = """<ir_version: 9, opset_import: ["" : 18]>
g (float[3,4] x, float[3,0,5] z) => (float[0,4] sliced, int64[0] dims, float[3,0,5] upper,
                                      float[3,0,5] doubled, float[3,4] kept) {
    starts = Constant<value = int64[1] {5}>()
    ends = Constant<value = int64[1] {9}>()
    axis = Constant<value = int64[1] {0}>()
    sliced = Slice(x, starts, ends, axis)
    dims = Shape<start=2, end=1>(x)
    upper = Trilu<upper=1>(z)
    doubled = Add(z, z)
    kept = Relu(x)
}"""


def test_outputs_without_elements(tmp_path, rng):
    """Outputs whose static shape has no elements: known when converting, and written
    from a one-element constant (LiteRT refuses a constant of no bytes)."""
    feeds = {"x": rng.standard_normal((3, 4)).astype(np.float32),
             "z": np.zeros((3, 0, 5), np.float32)}
    ops = _emitted_matches(tmp_path, EMPTY_OUTPUTS, feeds)
    assert set(ops) == {"BROADCAST_TO", "RELU"}
