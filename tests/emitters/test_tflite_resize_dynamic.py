"""Resize with scales, sizes or roi given at run time, with axes, and Upsample: one .tflite
run in LiteRT on several scales/sizes each, compared with onnx's reference evaluator (the
conformance cases' source) and ONNX Runtime on random images; diagnose agrees."""

from __future__ import annotations

import numpy as np
import pytest
from _tflite_checks import emitted, refused, run_matches

from graphkit.backends.tflite.runner import run_artifact

SCALES = """<ir_version: 9, opset_import: ["" : 19]>
g (float[{image}] x, float[{count}] scales) => (float[a,b,c,d] y) {{
    y = Resize<{attrs}>(x, , scales)
}}"""
SIZES = """<ir_version: 9, opset_import: ["" : 19]>
g (float[{image}] x, int64[{count}] sizes) => (float[a,b,c,d] y) {{
    y = Resize<{attrs}>(x, , , sizes)
}}"""
CROP = """<ir_version: 9, opset_import: ["" : 19]>
g (float[{image}] x, float[{roi}] roi, int64[{count}] sizes) => (float[a,b,c,d] y) {{
    y = Resize<{attrs}>(x, roi, , sizes)
}}"""


# Scales at run time: H 5, W 10. 2.3 is 2.29999995 in float32: 10 * it is just below 23,
# so the output is 22 wide (float32's rounded product would say 23), and half_pixel's
# 11.5 / 2.3 - 0.5 is just above 4.5 (float32's quotient lands on the tie).
RUN_TIME_SCALES = [(1.7, 0.6), (0.5, 2.3), (3.0, 1.0), (0.4, 0.35)]
MODES = [
    'mode="nearest"',
    'mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"',
    'mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"',
    'mode="nearest", nearest_mode="round_prefer_ceil"',
    'mode="nearest", coordinate_transformation_mode="pytorch_half_pixel", '
    'nearest_mode="round_prefer_ceil"',
    'mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="floor", '
    "exclude_outside=1",
    'mode="linear"',
    'mode="linear", coordinate_transformation_mode="align_corners"',
    'mode="linear", coordinate_transformation_mode="asymmetric"',
    'mode="linear", coordinate_transformation_mode="pytorch_half_pixel"',
    'mode="linear", coordinate_transformation_mode="half_pixel_symmetric"',
    'mode="linear", antialias=1',
    'mode="cubic"',
    'mode="cubic", coordinate_transformation_mode="align_corners"',
    'mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1',
    'mode="cubic", coordinate_transformation_mode="half_pixel_symmetric", antialias=1',
    'mode="cubic", antialias=1, exclude_outside=1',
]


@pytest.mark.parametrize("attrs", MODES)
def test_scales_given_at_run_time_match_onnx_reference(tmp_path, rng, attrs):
    text = SCALES.format(image="2,3,5,10", count=4, attrs=attrs)
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((2, 3, 5, 10)).astype(np.float32)
    for h, w in RUN_TIME_SCALES:  # one model, shapes decided when it runs
        feeds = {"x": x, "scales": np.asarray([1, 1, h, w], np.float32)}
        run_matches(path, text, feeds, evaluator=True)


@pytest.mark.parametrize("attrs", ['mode="nearest"', 'mode="linear"', 'mode="cubic"',
                                   'mode="linear", antialias=1',
                                   'mode="cubic", coordinate_transformation_mode="asymmetric"'])
def test_scales_given_at_run_time_match_onnx_runtime(tmp_path, rng, attrs):
    text = SCALES.format(image="1,2,6,9", count=4, attrs=attrs)
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 6, 9)).astype(np.float32)
    for h, w in [(1.5, 0.75), (0.5, 2.0), (2.5, 1.25)]:  # products exact: no floor differs
        feeds = {"x": x, "scales": np.asarray([1, 1, h, w], np.float32)}
        run_matches(path, text, feeds)


@pytest.mark.parametrize("attrs", [
    'mode="nearest"', 'mode="linear", coordinate_transformation_mode="pytorch_half_pixel"',
    'mode="cubic", coordinate_transformation_mode="align_corners"',
    'mode="linear", antialias=1', 'mode="cubic", antialias=1',
    'mode="linear", coordinate_transformation_mode="half_pixel_symmetric"',
    'mode="nearest", coordinate_transformation_mode="align_corners", nearest_mode="ceil"',
    'mode="nearest", coordinate_transformation_mode="half_pixel_symmetric"'])
def test_sizes_given_at_run_time_match_onnx_reference(tmp_path, rng, attrs):
    text = SIZES.format(image="N,3,6,7", count=4, attrs=attrs)
    path = emitted(tmp_path, text).path
    for batch, h, w in [(2, 9, 4), (1, 1, 13), (3, 6, 1)]:  # sizes of 1 take each mode's edge
        x = rng.standard_normal((batch, 3, 6, 7)).astype(np.float32)
        feeds = {"x": x, "sizes": np.asarray([batch, 3, h, w], np.int64)}
        run_matches(path, text, feeds, evaluator=True)


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
@pytest.mark.parametrize("axes", ["[2, 3]", "[3, 2]", "[3]"])
def test_sizes_for_some_axes_keeping_the_aspect_ratio(tmp_path, rng, policy, axes):
    count = 1 if axes == "[3]" else 2
    attrs = f'mode="linear", axes={axes}, keep_aspect_ratio_policy="{policy}"'
    text = SIZES.format(image="1,2,6,8", count=count, attrs=attrs)
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 6, 8)).astype(np.float32)
    for sizes in [(9, 20), (3, 5), (7, 7)]:
        feeds = {"x": x, "sizes": np.asarray(sizes[:count], np.int64)}
        run_matches(path, text, feeds, evaluator=True)


@pytest.mark.parametrize(("attrs", "axes"), [
    ('mode="linear"', None), ('mode="cubic", extrapolation_value=-2.0', None),
    ('mode="cubic", exclude_outside=1', "[3, 2]")])
def test_crop_and_resize_with_roi_at_run_time(tmp_path, rng, attrs, axes):
    attrs += ', coordinate_transformation_mode="tf_crop_and_resize"'
    count = 4 if axes is None else 2
    if axes is not None:
        attrs += f", axes={axes}"
    text = CROP.format(image="1,2,5,6", roi=2 * count, count=count, attrs=attrs)
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    # (start, end) along H and W: inside, reaching past the image (extrapolated), a size of 1
    for (h0, h1), (w0, w1), (h, w) in [((0.2, 0.7), (0.1, 0.9), (4, 7)),
                                       ((-0.25, 1.3), (0.5, 1.4), (6, 3)),
                                       ((0.4, 0.6), (0.0, 1.0), (1, 5))]:
        if axes is None:
            roi, sizes = [0, 0, h0, w0, 1, 1, h1, w1], [1, 2, h, w]
        else:  # the entries follow axes: W first
            roi, sizes = [w0, h0, w1, h1], [w, h]
        feeds = {"x": x, "roi": np.asarray(roi, np.float32), "sizes": np.asarray(sizes, np.int64)}
        run_matches(path, text, feeds, evaluator=True)


UPSAMPLE = """<ir_version: 4, opset_import: ["" : 9]>
g (float[1,2,3,4] x, float[4] scales) => (float[a,b,c,d] y) {{
    y = Upsample<mode="{mode}">(x, scales)
}}"""


def test_upsample_nearest_matches_onnx_reference(tmp_path, rng):
    text = UPSAMPLE.format(mode="nearest")
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    for h, w in [(2, 3), (1, 2), (4, 1)]:
        feeds = {"x": x, "scales": np.asarray([1, 1, h, w], np.float32)}
        run_matches(path, text, feeds, evaluator=True)


def test_upsample_linear_matches_onnx_runtime(tmp_path, rng):
    """onnx's reference has no linear Upsample; ONNX Runtime's is asymmetric, as Resize-10."""
    text = UPSAMPLE.format(mode="linear")
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    for h, w in [(2, 3), (1.5, 2.5)]:
        feeds = {"x": x, "scales": np.asarray([1, 1, h, w], np.float32)}
        run_matches(path, text, feeds)


@pytest.mark.parametrize("scales", [(1, 2, 2, 2), (2, 1, 1, 1)])
def test_run_time_scales_that_resize_batch_or_channel_fail_the_call(tmp_path, rng, scales):
    """The batch and channel are never resized: such scales make LiteRT refuse the call
    (the last RESHAPE's sizes disagree) rather than return a wrong tensor."""
    text = SCALES.format(image="1,2,3,4", count=4, attrs='mode="linear"')
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    feeds = {"x": x, "scales": np.asarray([1, 1, 2, 2], np.float32)}
    run_matches(path, text, feeds, evaluator=True)
    with pytest.raises(RuntimeError):
        run_artifact(path, {"x": x, "scales": np.asarray(scales, np.float32)})


@pytest.mark.parametrize(("text", "words"), [
    (SCALES.format(image="1,2,3,4", count=2, attrs='mode="linear", axes=[1, 2]'),
     "batch or channel axis"),
    (SCALES.format(image="1,2,3,4", count=4, attrs='mode="nearest", antialias=1'),
     "nearest with antialias"),
    (SCALES.format(image="1,2,3,4", count=4, attrs='mode="nearest", '
                   'coordinate_transformation_mode="align_corners"'),
     "align_corners and scales given at run time"),
    (CROP.format(image="1,2,3,4", roi=8, count=4, attrs='mode="nearest", '
                 'coordinate_transformation_mode="tf_crop_and_resize"'),
     "tf_crop_and_resize and roi given at run time"),
    (SCALES.format(image="1,2,3,4", count="n", attrs='mode="linear"'),
     r"input 2 must have the static shape \[4\]"),
    (SCALES.format(image="1,2,3,H", count=4, attrs='mode="linear"'),
     "static channel and spatial input dims"),
    (CROP.format(image="1,2,3,4", roi=4, count=4,
                 attrs='mode="linear", coordinate_transformation_mode="tf_crop_and_resize"'),
     r"input 1 must have the static shape \[8\]"),
])
def test_what_run_time_resize_refuses_is_said(text, words):
    refused(text, words, blocker_says="any")


def test_a_run_time_roi_that_only_tf_crop_and_resize_reads_is_ignored(tmp_path, rng):
    """Constant scales keep the matrices computed when converting; the roi fed at run
    time means nothing to cubic half_pixel."""
    text = """<ir_version: 9, opset_import: ["" : 13]>
    g (float[1,2,4,5] x, float[8] roi) => (float[1,2,6,4] y) {
        scales = Constant<value = float[4] {1, 1, 1.5, 0.8}>()
        y = Resize<mode="cubic">(x, roi, scales)
    }"""
    path = emitted(tmp_path, text).path
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    roi = np.asarray([0, 0, 0.3, 0.1, 1, 1, 0.6, 0.7], np.float32)
    run_matches(path, text, {"x": x, "roi": roi}, evaluator=True)
