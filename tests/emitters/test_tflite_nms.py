"""ONNX NonMaxSuppression through the TFLite emitter (one NON_MAX_SUPPRESSION_V4 per image
and class, ONNX's [selected, 3] triplets built around them), run in LiteRT against ONNX
Runtime; and a detector built in code converted and validated whole."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require, run_ort
from detector_models import detector, detector_with_topk
from onnx import TensorProto, helper

require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402
from graphkit.ir import model_from_proto  # noqa: E402


def _nms(batch: int | str = 2, classes: int = 3, count: int = 20, *, center: int = 0,
         limit: int | None = 4, iou: float | None = 0.4, score: float | None = 0.2,
         fed: bool = False):
    """NMS on graph-input boxes [batch, count, 4] and scores [batch, classes, count];
    `fed`: the limit and thresholds are graph inputs too (else constants)."""
    inits, names, given = [], ["boxes", "scores"], []
    for name, value, kind in (("limit", limit, TensorProto.INT64),
                              ("iou", iou, TensorProto.FLOAT),
                              ("score", score, TensorProto.FLOAT)):
        names.append("" if value is None else name)
        if value is not None and fed:
            given.append(helper.make_tensor_value_info(name, kind, [1]))
        elif value is not None:
            inits.append(helper.make_tensor(name, kind, [1], [value]))
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node("NonMaxSuppression", names, ["selected"], center_point_box=center)
    graph = helper.make_graph([node], "g", [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [batch, count, 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, classes, count]),
        *given,
    ], [helper.make_tensor_value_info("selected", TensorProto.INT64, ["n", 3])], inits)
    return model_from_proto(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


def _feeds(rng, batch: int, classes: int, count: int, center: int) -> dict[str, np.ndarray]:
    """Clustered boxes (so that IoU suppresses some), corners in either order."""
    clusters = rng.uniform(0, 100, (batch, count, 2)) // 25 * 25
    centers = clusters + rng.uniform(0, 8, (batch, count, 2))
    sizes = rng.uniform(10, 30, (batch, count, 2))
    if center:
        boxes = np.concatenate([centers, sizes], axis=2)
    else:
        corners = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=2)
        flip = rng.random((batch, count)) < 0.3  # [y2, x2, y1, x1]: ONNX allows either order
        boxes = np.where(flip[..., None], corners[..., [2, 3, 0, 1]], corners)
    scores = rng.permutation(batch * classes * count).reshape(batch, classes, count)
    return {"boxes": boxes.astype(np.float32),
            "scores": (scores / scores.size).astype(np.float32)}  # distinct: no ties


@pytest.mark.parametrize("batch, classes, center, limit, iou, score", [
    (1, 1, 0, 5, 0.5, 0.0),
    (2, 3, 0, 4, 0.4, 0.2),
    (2, 2, 1, 100, 0.3, None),  # a limit over the box count, no score threshold
    (1, 4, 1, 3, None, 0.5),  # no IoU threshold: 0, any overlap suppresses
])
def test_nms_selects_what_onnxruntime_selects(tmp_path, rng, batch, classes, center, limit,
                                              iou, score):
    model = _nms(batch, classes, center=center, limit=limit, iou=iou, score=score)
    assert graphkit.diagnose(model, "tflite").blockers == []
    artifact = emit(model, tmp_path / "nms.tflite")
    assert artifact.metadata["builtins"]["NON_MAX_SUPPRESSION_V4"] == batch * classes
    for _ in range(3):
        feeds = _feeds(rng, batch, classes, 20, center)
        (want,) = run_ort(model, feeds)
        got = run_artifact(artifact.path, feeds)["selected"]
        assert len(want) > 0 and got.dtype == np.int64
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("iou", [0.0, 0.4])
def test_nms_limit_and_thresholds_given_at_run_time(tmp_path, rng, iou):
    model = _nms(2, 3, limit=4, iou=iou, score=0.2, fed=True)
    assert graphkit.diagnose(model, "tflite").blockers == []
    path = emit(model, tmp_path / "nms.tflite").path
    for limit, score in ((4, 0.2), (2, 0.5), (50, 0.0), (0, 0.0)):
        feeds = {**_feeds(rng, 2, 3, 20, 0), "limit": np.array([limit], np.int64),
                 "iou": np.array([iou], np.float32), "score": np.array([score], np.float32)}
        (want,) = run_ort(model, feeds)
        np.testing.assert_array_equal(run_artifact(path, feeds)["selected"], want)


@pytest.mark.parametrize("model, reason", [
    (_nms(batch="b"), "NonMaxSuppression needs static box and score shapes"),
    (_nms(limit=None), "NonMaxSuppression with max_output_boxes_per_class 0 selects nothing"),
    (_nms(batch=2, classes=600), "NonMaxSuppression over 2 images x 600 classes is over 1024"),
])
def test_nms_the_builtin_cannot_take_is_refused_alike_by_diagnose_and_emit(tmp_path, model,
                                                                           reason):
    assert any(reason in f.message for f in graphkit.diagnose(model, "tflite").blockers)
    with pytest.raises(InputError) as refused:
        emit(model, tmp_path / "nms.tflite")
    assert reason in str(refused.value)


@pytest.mark.parametrize("make", [detector, detector_with_topk])
def test_detector_with_nms_converts_and_validates(tmp_path, rng, make):
    image = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    model = make()
    artifact = graphkit.convert(model, "tflite", tmp_path / "det.tflite", inputs={"image": image})
    assert artifact.validated
    assert artifact.metadata["builtins"]["NON_MAX_SUPPRESSION_V4"] == 3
    got = run_artifact(artifact.path, {"image": image})
    want = run_ort(model, {"image": image})
    assert len(want[0]) > 2  # several detections
    for value, expected in zip(model.graph.outputs, want, strict=True):
        assert got[value.name].shape == expected.shape
        assert float(np.max(np.abs(got[value.name] - expected))) < 1e-4 * max(
            1.0, float(np.max(np.abs(expected))))
