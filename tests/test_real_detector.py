"""graphkit.fix on real models built in code: a detector (TensorRT, TFLite), a CNN with BatchNorm.

The detector is a torch conv backbone (torch.onnx.export, dynamo=False) plus an ONNX head
with int64 index ops (ReduceMax/TopK pre-selection, ArgMax, Gather, GatherND) ending in
NonMaxSuppression. Each NMS form is proven its own way: cut by running main then post
against the original; native against a numpy reference of the padded (EfficientNMS) form;
plugin by structure only (no TensorRT here).
"""

from __future__ import annotations

import io
import json

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import ops, run_ort
from detector_models import (
    CLASSES,
    IOU,
    PER_CLASS,
    SCORE,
    detector_with_topk,
    efficient_nms_reference,
    torch_head_bytes,
)

import graphkit
from graphkit.cli import main
from graphkit.diagnose import diagnose

DETECTIONS = ("num_detections", "detection_boxes", "detection_scores", "detection_classes")


@pytest.fixture(scope="module")
def image():
    return {"image": np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)}


@pytest.fixture(scope="module")
def expected(image):
    outputs = run_ort(detector_with_topk(), image)
    assert len(outputs[0]) > 3  # several detections, so equality means something
    return outputs


def _by_name(model, feeds):
    proto = model if isinstance(model, onnx.ModelProto) else ir.to_proto(model)
    return dict(zip([o.name for o in proto.graph.output], run_ort(proto, feeds), strict=True))


def _main_then_post(main_model, post_model, image):
    main_out = _by_name(main_model, image)
    proto = post_model if isinstance(post_model, onnx.ModelProto) else ir.to_proto(post_model)
    names = [value.name for value in proto.graph.input]
    post_in = {name: main_out.get(name, image.get(name)) for name in names}
    return _by_name(post_model, post_in)


@pytest.mark.parametrize("target", ["tensorrt", "tflite"])
def test_cut_leaves_a_clean_network_and_main_then_post_is_the_original(target, image, expected):
    fixed, report = graphkit.fix(detector_with_topk(), target, nms="cut", inputs=image)
    assert report.fixed and report.validated and report.reference == "original"
    assert not diagnose(fixed, target).blockers
    [post] = report.post_models
    assert "NonMaxSuppression" not in ops(fixed) and "NonMaxSuppression" in ops(post)
    # The int64 selection head (ReduceMax, TopK, ArgMax, Gathers) left with NMS.
    assert not {"TopK", "ArgMax", "Gather", "GatherND"} & set(ops(fixed))
    got = _main_then_post(fixed, post, image)
    names = ("det_boxes", "det_scores", "det_classes", "det_best_class")
    for name, want in zip(names, expected, strict=True):
        np.testing.assert_array_equal(got[name], want)


def _padded_reference(image, k):
    """EfficientNMS in numpy on what the head feeds NMS: the top 32 boxes by best class score."""
    head = run_ort(onnx.load_from_string(torch_head_bytes()), image)[0][0]  # [64, 4 + C]
    boxes, classes = head[:, :4], head[:, 4:]
    top = np.argsort(-classes.max(axis=1), kind="stable")[:32]
    return efficient_nms_reference(boxes[None, top], classes[None, top], IOU, SCORE, k)


def test_tflite_keeps_onnx_nms_by_default_and_gets_the_padded_form_on_request(image, expected):
    # The TFLite emitter lowers ONNX's NonMaxSuppression as it is (issue 12): fix leaves it.
    kept, report = graphkit.fix(detector_with_topk(), "tflite", inputs=image)
    assert "NonMaxSuppression" in ops(kept) and not diagnose(kept, "tflite").blockers
    assert not any(c.startswith("nms") for p in report.passes for c in p.changes)
    fixed, report = graphkit.fix(detector_with_topk(), "tflite", nms="native",
                                 inputs=image)
    assert not diagnose(fixed, "tflite").blockers  # the padded form lowers too
    assert any(c.startswith("nms native") for p in report.passes for c in p.changes)
    assert [v.name for v in fixed.graph.outputs] == list(DETECTIONS)
    assert all(isinstance(d, int) for v in fixed.graph.outputs for d in v.shape)
    # Everything before the swap matched the original; then the swap's outputs are the reference.
    assert report.before_replacement and all(d.ok for d in report.before_replacement)
    assert "nms native" in report.reference and report.validated
    got = _by_name(fixed, image)
    want = _padded_reference(image, PER_CLASS * CLASSES)
    for name, ref in zip(DETECTIONS, want, strict=True):
        assert got[name].dtype == ref.dtype and got[name].shape == ref.shape
        np.testing.assert_allclose(got[name], ref, rtol=1e-6)
    # The same detections as the original graph, ranked by score.
    count = int(got["num_detections"][0, 0])
    assert count == len(expected[1])
    np.testing.assert_allclose(got["detection_scores"][0, :count], np.sort(expected[1])[::-1])


def test_tensorrt_gets_the_efficientnms_plugin_by_default(image):
    fixed, report = graphkit.fix(detector_with_topk(), "tensorrt", inputs=image)
    [node] = [n for n in fixed.graph if n.op_type == "EfficientNMS_TRT"]
    assert node.domain == "TRT" and "NonMaxSuppression" not in ops(fixed)
    assert [v.name for v in fixed.graph.outputs] == list(DETECTIONS)
    assert [v.name for v in node.outputs] == list(DETECTIONS)
    k = PER_CLASS * CLASSES
    assert [list(v.shape) for v in node.outputs] == [[1, 1], [1, k, 4], [1, k], [1, k]]
    assert node.attributes["max_output_boxes"].value == k
    assert report.before_replacement and all(d.ok for d in report.before_replacement)
    assert "not runnable here" in report.reference and not report.validation
    # The parser imports EfficientNMS_TRT from the standard plugin library: nothing blocks.
    assert report.fixed and not diagnose(fixed, "tensorrt").blockers
    # A plugin TensorRT's library does not have is still refused.
    node.op_type = "MyNMS_TRT"
    assert [(f.code, f.op) for f in diagnose(fixed, "tensorrt").blockers] == \
        [("GK101", "MyNMS_TRT")]


def test_cli_cut_writes_the_post_model_beside_the_output(tmp_path, image, expected, capsys):
    source = tmp_path / "det.onnx"
    graphkit.save(detector_with_topk(), source)
    data = source.read_bytes()
    out = tmp_path / "out" / "det.fixed.onnx"
    out.parent.mkdir()
    code = main(["fix", str(source), "--target", "tflite", "--nms", "cut", "-o", str(out),
                 "--format", "json"])
    printed = json.loads(capsys.readouterr().out)
    post_path = tmp_path / "out" / "det.fixed.post.onnx"
    assert code == 0 and printed["post_models"] == [str(post_path)]
    assert source.read_bytes() == data
    assert sorted(p.name for p in out.parent.iterdir()) == ["det.fixed.onnx", "det.fixed.post.onnx"]
    got = _main_then_post(onnx.load(out), onnx.load(post_path), image)
    np.testing.assert_array_equal(got["det_scores"], expected[1])
    assert main(["fix", str(source), "--target", "tflite", "--nms", "cut", "-o", str(out)]) == 0
    text = capsys.readouterr().out.replace("\n", "")
    assert f"post-processing model written to {post_path}" in text


def _bn_cnn_bytes():
    """Conv+BatchNorm blocks with trained-looking statistics, exported without constant folding
    (the exporter's folding would fuse them first; other exporters leave them)."""
    import torch

    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
              torch.nn.Conv2d(8, 8, 3, stride=2, padding=1), torch.nn.BatchNorm2d(8),
              torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    for bn in (layers[1], layers[4]):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 16, 16)
    buffer = io.BytesIO()
    torch.onnx.export(net, (x,), buffer, dynamo=False, opset_version=17, do_constant_folding=False,
                      input_names=["x"], output_names=["y"])
    return buffer.getvalue(), x.numpy(), net(x).detach().numpy()


@pytest.mark.parametrize("target", ["ort", "tflite"])
def test_fix_fuses_batchnorm_into_conv(target):
    data, x, torch_out = _bn_cnn_bytes()
    model = onnx.load_from_string(data)
    assert [n.op_type for n in model.graph.node].count("BatchNormalization") == 2
    fixed, report = graphkit.fix(model, target, inputs={"x": x})
    assert "BatchNormalization" not in ops(fixed) and report.validated
    [after] = run_ort(fixed, {"x": x})
    [before] = run_ort(model, {"x": x})
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after, torch_out, rtol=1e-4, atol=1e-5)
