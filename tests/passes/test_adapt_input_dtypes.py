"""adapt-input-dtypes: a uint8 image feeds a float graph through a Cast at the input."""

import numpy as np
import onnx_ir as ir
import pytest
from conftest import model_from_text, ops, run_ort

import graphkit
from graphkit.errors import InputError
from graphkit.ir import copy_model
from graphkit.passes.adapt_input_dtypes import AdaptInputDtypes
from graphkit.passmanager import PassContext, PassManager, Validation

WEIGHTS = ", ".join(f"{v:.4f}" for v in np.random.default_rng(0).standard_normal(108))
# A float image normalized in the graph (x / 255 - mean), a conv, and a second, int64 input.
CNN = """<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 3, 8, 8] image, float[1, 4] extra, int64[1] ids) => (float[1, 4] y, int64[1] ids_out) {
    scale = Constant <value = float {0.0039215686}> ()
    mean = Constant <value = float[1, 3, 1, 1] {0.485, 0.456, 0.406}> ()
    w = Constant <value = float[4, 3, 3, 3] {WEIGHTS}> ()
    scaled = Mul(image, scale)
    x = Sub(scaled, mean)
    conv = Conv <pads = [1, 1, 1, 1]> (x, w)
    c = Relu(conv)
    pooled = ReduceMean <axes = [2, 3], keepdims = 0> (c)
    y = Add(pooled, extra)
    ids_out = Identity(ids)
}""".replace("WEIGHTS", WEIGHTS)


def _image(rng):
    """A real-looking uint8 image: a gradient with noise, every value 0..255."""
    ramp = np.linspace(0, 255, 64).reshape(8, 8)
    noise = rng.integers(-20, 21, (1, 3, 8, 8))
    return np.clip(ramp + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def feeds(rng):
    return {"image": _image(rng), "extra": rng.standard_normal((1, 4)).astype(np.float32),
            "ids": np.array([7], np.int64)}


def test_uint8_image_input_gets_a_cast_and_the_same_outputs(feeds):
    model = model_from_text(CNN)
    as_float = {**feeds, "image": feeds["image"].astype(np.float32)}
    expected = run_ort(model, as_float)
    result = AdaptInputDtypes(inputs=("image",)).run(model, PassContext())
    assert result.changes == ["input 'image' takes uint8 now, cast to float on entry"]
    image = model.graph.inputs[0]
    assert image.dtype == ir.DataType.UINT8 and model.graph.inputs[1].dtype == ir.DataType.FLOAT
    [cast] = [user for user, _ in image.uses()]
    assert cast.op_type == "Cast" and cast.attributes["to"].value == ir.DataType.FLOAT
    assert ops(model)[0] == "Cast"
    for got, want in zip(run_ort(model, feeds), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_default_adapts_every_float_input_and_dtype_option(feeds):
    model = model_from_text(CNN)
    AdaptInputDtypes(dtype="float16").run(model, PassContext())
    assert [v.dtype for v in model.graph.inputs] == [ir.DataType.FLOAT16, ir.DataType.FLOAT16,
                                                     ir.DataType.INT64]
    half = {**feeds, "image": feeds["image"].astype(np.float16),
            "extra": feeds["extra"].astype(np.float16)}
    # float16 holds 0..255 exactly; extra is rounded to float16 on both sides of the check.
    expected = run_ort(model_from_text(CNN), {k: v.astype(np.float32) if v.dtype == np.float16
                                               else v for k, v in half.items()})
    for got, want in zip(run_ort(model, half), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_pass_manager_proves_it_on_a_real_image_and_on_generated_uint8_values(feeds):
    as_float = {**feeds, "image": feeds["image"].astype(np.float32)}
    model, report = PassManager([AdaptInputDtypes(inputs=("image",))],
                                validation=Validation(inputs=as_float)).run(model_from_text(CNN))
    assert report.validated and not report.passes[0].rolled_back
    assert model.graph.inputs[0].dtype == ir.DataType.UINT8
    # Without inputs, the pass names the image in input_domains: generated values are uint8's.
    model, report = PassManager([AdaptInputDtypes(inputs=("image",))]).run(model_from_text(CNN))
    assert report.validated and not report.passes[-1].rolled_back
    assert model.graph.inputs[0].dtype == ir.DataType.UINT8


def test_given_floats_that_are_not_uint8_values_roll_it_back(feeds, rng):
    noisy = {**feeds, "image": rng.standard_normal(feeds["image"].shape).astype(np.float32)}
    model, report = PassManager([AdaptInputDtypes(inputs=("image",))],
                                validation=Validation(inputs=noisy)).run(model_from_text(CNN))
    assert report.passes[-1].rolled_back and model.graph.inputs[0].dtype == ir.DataType.FLOAT
    assert any(f.code == "GK501" for f in report.findings)


def test_fix_passes_adapts_the_image_and_proves_it(feeds):
    fixed, report = graphkit.fix(model_from_text(CNN), "ort",
                                 passes="adapt-input-dtypes{inputs=image}")
    assert report.validated and fixed.graph.inputs[0].dtype == ir.DataType.UINT8
    [record] = [r for r in report.passes if r.name == "adapt-input-dtypes"]
    assert record.changes and not record.rolled_back
    as_float = {**feeds, "image": feeds["image"].astype(np.float32)}
    for got, want in zip(run_ort(fixed, feeds), run_ort(model_from_text(CNN), as_float),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_inputs_it_cannot_adapt_are_named():
    model = model_from_text(CNN)
    with pytest.raises(InputError, match="has no input 'pixels' \\(inputs: image, extra, ids\\)"):
        AdaptInputDtypes(inputs=("pixels",)).run(copy_model(model), PassContext())
    with pytest.raises(InputError, match="dtype 'uint4' is not one of"):
        AdaptInputDtypes(dtype="uint4")
    result = AdaptInputDtypes(inputs=("ids",)).run(model, PassContext())
    assert not result.modified
    [finding] = result.findings
    assert finding.message == "adapt-input-dtypes: input 'ids' is int64, not floating point"
