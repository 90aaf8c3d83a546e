"""nms: keep / cut / native / plugin on a small detector (torch backbone + ONNX NMS head)."""

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, ops, run_ort
from detector_models import (
    CLASSES,
    IOU,
    SCORE,
    detector,
    efficient_nms_reference,
    torch_head_bytes,
)

from graphkit.errors import InputError
from graphkit.ir import copy_model
from graphkit.passes.nms import Nms
from graphkit.passmanager import PassContext, PassManager


@pytest.fixture(scope="module")
def image():
    return {"image": np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)}


@pytest.fixture(scope="module")
def original(image):
    model = detector()
    return model, run_ort(model, image)


def by_name(model, feeds):
    proto = ir.to_proto(model)
    return dict(zip([o.name for o in proto.graph.output], run_ort(proto, feeds)))


def test_keep_leaves_the_model_alone(original):
    model = copy_model(original[0])
    assert not Nms(mode="keep").run(model, PassContext()).modified
    assert "NonMaxSuppression" in ops(model)


def test_cut_main_then_post_reproduces_the_original(original, image):
    model, expected = copy_model(original[0]), original[1]
    assert len(expected[0]) > 3  # the image yields several detections, so the check means something
    result = Nms(mode="cut").run(model, PassContext())
    [post] = result.post_models
    assert "NonMaxSuppression" not in ops(model) and "NonMaxSuppression" in ops(post)
    # The head's int64 selection ops (Slice, Squeeze, Gather, GatherND) left with NMS: what stays
    # is exactly the torch network.
    torch_ops = [n.op_type for n in onnx.load_from_string(torch_head_bytes()).graph.node]
    assert sorted(ops(model)) == sorted(torch_ops)
    assert [v.name for v in model.graph.outputs] == ["head"]
    onnx.checker.check_model(ir.to_proto(post), full_check=True)
    main_out = by_name(model, image)
    post_out = by_name(post, {v.name: main_out[v.name] for v in post.graph.inputs})
    for name, want in zip(["det_boxes", "det_scores", "det_classes"], expected, strict=True):
        np.testing.assert_array_equal(post_out[name], want)


def test_native_padded_form_matches_efficientnms_reference_and_original(original, image):
    model, expected = copy_model(original[0]), original[1]
    result = Nms(mode="native", max_detections=5).run(model, PassContext())
    assert result.outputs_replaced
    got = by_name(model, image)
    assert list(got) == ["num_detections", "detection_boxes", "detection_scores",
                         "detection_classes"]
    raw = _head_output(image)
    boxes, scores = raw[..., :4], raw[..., 4:]
    want = efficient_nms_reference(boxes, scores, IOU, SCORE, 5)
    for name, ref in zip(got, want, strict=True):
        assert got[name].dtype == ref.dtype and got[name].shape == ref.shape
        np.testing.assert_allclose(got[name], ref, rtol=1e-6)
    # Same detections as the original graph, top 5 by score.
    order = np.argsort(-expected[1], kind="stable")[:5]
    np.testing.assert_allclose(got["detection_scores"][0], expected[1][order])
    np.testing.assert_array_equal(got["detection_classes"][0], expected[2][order])


def _head_output(image):
    proto = onnx.load_from_string(torch_head_bytes())
    return run_ort(proto, image)[0]


def test_plugin_node_has_efficientnms_interface(original, image):
    model = copy_model(original[0])
    Nms(mode="plugin", max_detections=20).run(model, PassContext())
    [node] = [n for n in model.graph if n.op_type == "EfficientNMS_TRT"]
    assert node.domain == "TRT" and model.opset_imports["TRT"] == 1
    assert "NonMaxSuppression" not in ops(model)
    attrs = {name: a.value for name, a in node.attributes.items()}
    assert attrs == {"background_class": -1, "box_coding": 0, "iou_threshold": pytest.approx(IOU),
                     "max_output_boxes": 20, "plugin_version": "1", "score_activation": 0,
                     "score_threshold": pytest.approx(SCORE)}
    assert [v.name for v in model.graph.outputs] == [v.name for v in node.outputs] == \
        ["num_detections", "detection_boxes", "detection_scores", "detection_classes"]
    assert [v.dtype for v in node.outputs] == [ir.DataType.INT32, ir.DataType.FLOAT,
                                               ir.DataType.FLOAT, ir.DataType.INT32]
    assert [list(v.shape) for v in node.outputs] == [[1, 1], [1, 20, 4], [1, 20], [1, 20]]
    # The plugin's inputs, computed by the rewritten graph, have EfficientNMS's layouts; fed to the
    # numpy reference they give what the original NMS selected.
    probe = copy_model(model)
    [plugin] = [n for n in probe.graph if n.op_type == "EfficientNMS_TRT"]
    probe.graph.outputs.clear()
    probe.graph.outputs.extend(plugin.inputs)
    probe.graph.remove(plugin)
    boxes, scores = run_ort(probe, image)
    assert boxes.shape == (1, 64, 4) and scores.shape == (1, 64, CLASSES)
    count, _, ref_scores, _ = efficient_nms_reference(boxes, scores, IOU, SCORE, 20)
    assert count[0, 0] == min(len(original[1][1]), 20)
    np.testing.assert_allclose(np.sort(ref_scores[0, : count[0, 0]]),
                               np.sort(original[1][1])[-count[0, 0]:])


CENTER = """<ir_version: 10, opset_import: ["" : 13]>
g (float[1, 6, 4] boxes, float[1, 2, 6] scores) => (int64[M, 3] selected) {
    k = Constant <value = int64[1] {3}> ()
    iou = Constant <value = float[1] {0.4}> ()
    thr = Constant <value = float[1] {0.1}> ()
    selected = NonMaxSuppression <center_point_box = 1> (boxes, scores, k, iou, thr)
}"""


def test_native_converts_center_boxes_to_corners():
    rng = np.random.default_rng(1)
    boxes = np.concatenate([rng.uniform(0, 10, (1, 6, 2)), rng.uniform(1, 6, (1, 6, 2))],
                           -1).astype(np.float32)
    scores = rng.uniform(0, 1, (1, 2, 6)).astype(np.float32)
    model = model_from_text(CENTER)
    Nms(mode="native").run(model, PassContext())  # K = 3 per class x 2 classes
    got = run_ort(model, {"boxes": boxes, "scores": scores})
    want = efficient_nms_reference(boxes, scores.transpose(0, 2, 1), 0.4, 0.1, 6, center=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_pass_manager_proves_cut_by_running_the_chain(original):
    model = copy_model(original[0])
    out, report = PassManager([Nms(mode="cut")]).run(model)
    assert not report.passes[0].rolled_back and len(report.post_models) == 1
    assert report.validated  # original outputs reproduced by main -> post


def test_pass_manager_accepts_replaced_outputs_and_says_so(original):
    _, report = PassManager([Nms(mode="plugin", max_detections=20)]).run(copy_model(original[0]))
    assert not report.passes[0].rolled_back
    assert any(f.code == "GK504" and "cannot run" in f.message for f in report.findings)


def test_bad_mode_and_runtime_thresholds_are_clear():
    with pytest.raises(InputError, match="mode 'trt' is not one of keep, native, plugin, cut"):
        Nms(mode="trt")
    text = CENTER.replace("float[1, 2, 6] scores)", "float[1, 2, 6] scores, float[1] t)").replace(
        "(boxes, scores, k, iou, thr)", "(boxes, scores, k, iou, t)")
    model = model_from_text(text)
    result = Nms(mode="plugin").run(model, PassContext())
    assert (not result.modified
            and "score_threshold is computed at run time" in result.findings[0].message)
