"""The TFLite lowering of Scan (unrolled), old-opset models, small ops (Shrink, NonZero,
Compress, ReverseSequence, Scatter, GatherND, ...), the training optimizers and the
ai.onnx.ml ops: each emitted .tflite runs in LiteRT on real random inputs and is compared
with ONNX Runtime (or onnx's reference evaluator where ORT has no kernel), and diagnose
--target tflite says the same as the emitter."""

from __future__ import annotations

import numpy as np
import pytest
from _tflite_checks import emitted_matches, refused
from conftest import model_from_text

from graphkit.backends.tflite.emitter import emit
from graphkit.backends.tflite.runner import run_artifact

# Scan ---------------------------------------------------------------------------------

SCAN9 = """<ir_version: 9, opset_import: ["" : 16]>
g (float[3] s0, float[4,3] x, float[3,4] w) => (float[3] s, float[{out}] y, float[4,3] z) {{
    s, y, z = Scan <num_scan_inputs=2, scan_input_axes=[0, 1], scan_input_directions=[1, 0],
                    scan_output_axes=[{axis}, 0], scan_output_directions=[0, 1],
                    body=step (float[3] s_in, float[3] x_t, float[3] w_t)
                              => (float[3] s_out, float[3] y_t, float[3] z_t) {{
        m = Mul(s_in, x_t)
        s_out = Add(m, w_t)
        y_t = Tanh(s_out)
        z_t = Sub(x_t, s_in)
    }}>(s0, x, w)
}}"""


@pytest.mark.parametrize(("axis", "out"), [(0, "4,3"), (-1, "3,4"), (1, "3,4")])
def test_scan_with_axes_and_directions_matches_ort(tmp_path, rng, axis, out):
    """Scan over axis 0 of x (backwards) and axis 1 of w, outputs stacked on either axis,
    one of them in reverse: the unrolled body gives ORT's values."""
    feeds = {"s0": rng.standard_normal(3).astype(np.float32),
             "x": rng.standard_normal((4, 3)).astype(np.float32),
             "w": rng.standard_normal((3, 4)).astype(np.float32)}
    emitted_matches(tmp_path, SCAN9.format(axis=axis, out=out), feeds)


SCAN8 = """<ir_version: 4, opset_import: ["" : 8]>
g (float[2,3] s0, float[2,5,3] x) => (float[2,3] s, float[2,5,3] y) {
    s, y = Scan <num_scan_inputs=1, directions=[1],
                 body=step (float[3] s_in, float[3] x_t) => (float[3] s_out, float[3] y_t) {
        s_out = Add(s_in, x_t)
        y_t = Mul(s_out, x_t)
    }>(, s0, x)
}"""


def test_scan_opset8_scans_each_batch_row(tmp_path, rng):
    """Opset 8's Scan: batch axis 0, scan axis 1, each row on its own (ORT runs Scan-8)."""
    feeds = {"s0": rng.standard_normal((2, 3)).astype(np.float32),
             "x": rng.standard_normal((2, 5, 3)).astype(np.float32)}
    emitted_matches(tmp_path, SCAN8, feeds)


def test_scan_opset8_with_sequence_lens_is_refused():
    text = SCAN8.replace("(, s0, x)", "(lens, s0, x)").replace(
        "g (float[2,3] s0", "g (int32[2] lens, float[2,3] s0")
    refused(text, "sequence_lens is not lowered")


def test_scan_too_long_to_unroll_is_refused():
    text = """<ir_version: 9, opset_import: ["" : 16]>
    g (float[3] s0, float[2000,3] x) => (float[3] s) {
        s = Scan <num_scan_inputs=1, body=step (float[3] s_in, float[3] x_t)
                                              => (float[3] s_out) {
            s_out = Add(s_in, x_t)
        }>(s0, x)
    }"""
    refused(text, "unrolls at most 1024")


def test_a_scan_inside_a_scan_body_is_refused():
    """Both unrolled, the inner body's copies would multiply (1024 x 1024 ...): diagnose and
    the emitter refuse it alike, before writing anything."""
    text = """<ir_version: 9, opset_import: ["" : 16]>
    g (float[3] s0, float[4,3] x) => (float[3] s) {
        s = Scan <num_scan_inputs=1, body=outer (float[3] s_in, float[3] x_t)
                                              => (float[3] s_out) {
            zero = Constant<value = int64[1] {0}>()
            rows = Unsqueeze(x_t, zero)
            s_out = Scan <num_scan_inputs=1, body=inner (float[3] t_in, float[3] r_t)
                                                   => (float[3] t_out) {
                t_out = Add(t_in, r_t)
            }>(s_in, rows)
        }>(s0, x)
    }"""
    refused(text, "Scan inside a Scan")


def test_an_unrolling_past_the_operator_budget_is_refused(tmp_path, monkeypatch):
    """The emitter stops writing once a model needs more operators than a .tflite may get
    (MAX_OPERATORS, lowered here so that a 30-step Scan passes it), naming the node."""
    from graphkit.backends.tflite import _flatbuffer
    from graphkit.errors import InputError

    monkeypatch.setattr(_flatbuffer, "MAX_OPERATORS", 20)
    text = """<ir_version: 9, opset_import: ["" : 16]>
    g (float[3] s0, float[30,3] x) => (float[3] s) {
        s = Scan <num_scan_inputs=1, body=step (float[3] s_in, float[3] x_t)
                                              => (float[3] s_out) {
            s_out = Add(s_in, x_t)
        }>(s0, x)
    }"""
    with pytest.raises(InputError, match=r"node 'Scan' \(Scan\): .*over 20 TFLite operators"):
        emit(model_from_text(text), tmp_path / "m.tflite")
    assert not (tmp_path / "m.tflite").exists()


# Models at opset 1 --------------------------------------------------------------------

def test_not_at_opset_1_whose_definition_is_unchanged(tmp_path, rng):
    text = """<ir_version: 3, opset_import: ["" : 1]>
    g (bool[3,4] x) => (bool[3,4] y) { y = Not(x) }"""
    emitted_matches(tmp_path, text, {"x": rng.random((3, 4)) > 0.5})


def test_an_op_redefined_since_opset_1_is_refused():
    """Add at opset 1 had the broadcast attribute: its definition is not opset 9's."""
    text = """<ir_version: 3, opset_import: ["" : 1]>
    g (float[3] x, float[3] y) => (float[3] z) { z = Add(x, y) }"""
    refused(text, "ONNX redefined Add")


# Small ops ----------------------------------------------------------------------------

@pytest.mark.parametrize(("lambd", "bias"), [(0.5, 0.0), (1.5, 1.5), (0.0, 0.25)])
def test_shrink_matches_ort(tmp_path, rng, lambd, bias):
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g (float[3,5] x) => (float[3,5] y) {{ y = Shrink<lambd={lambd}, bias={bias}>(x) }}"""
    x = rng.standard_normal((3, 5)).astype(np.float32) * 3
    x[0, :3] = [lambd, -lambd, 0.0]  # the boundaries: not shrunk past, kept at zero
    emitted_matches(tmp_path, text, {"x": x})


@pytest.mark.parametrize(("dtype", "onnx_type"), [(np.float32, "float"), (np.int64, "int64"),
                                                  (np.bool_, "bool")])
def test_nonzero_gives_coordinates_per_axis(tmp_path, rng, dtype, onnx_type):
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g ({onnx_type}[3,4,2] x) => (int64[3,N] y) {{ y = NonZero(x) }}"""
    x = (rng.integers(0, 3, (3, 4, 2)) * (rng.random((3, 4, 2)) > 0.5)).astype(dtype)
    x.flat[0] = 1  # at least one element is nonzero: LiteRT holds no empty tensor
    emitted_matches(tmp_path, text, {"x": x})


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_compress_matches_ort(tmp_path, rng, axis):
    given = "" if axis is None else f"<axis={axis}>"
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g (float[3,4] x, bool[3] c) => (float[M] y) {{ y = Compress{given}(x, c) }}"""
    if axis is not None:
        text = text.replace("float[M] y", "float[A,B] y")
    feeds = {"x": rng.standard_normal((3, 4)).astype(np.float32),
             "c": np.asarray([True, False, True])}
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize(("time", "batch", "shape", "lens"), [
    (0, 1, (4, 3, 2), [4, 1, 2]), (1, 0, (3, 4, 2), [2, 4, 3])])
def test_reverse_sequence_matches_ort(tmp_path, rng, time, batch, shape, lens):
    dims = ",".join(map(str, shape))
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g (float[{dims}] x, int64[3] n) => (float[{dims}] y) {{
        y = ReverseSequence<time_axis={time}, batch_axis={batch}>(x, n)
    }}"""
    feeds = {"x": rng.standard_normal(shape).astype(np.float32),
             "n": np.asarray(lens, np.int64)}
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_of_opset_10_as_scatter_elements(tmp_path, rng, axis):
    text = f"""<ir_version: 5, opset_import: ["" : 10]>
    g (float[3,4] data, int64[2,3] i, float[2,3] u) => (float[3,4] y) {{
        y = Scatter<axis={axis}>(data, i, u)
    }}"""
    # distinct positions per column (axis 0) or row (axis 1): ONNX leaves duplicates open
    index = np.asarray([[0, 2, 1], [2, 1, 0]]) if axis == 0 else np.asarray([[0, 3, 1],
                                                                            [2, 1, 0]])
    feeds = {"data": rng.standard_normal((3, 4)).astype(np.float32), "i": index,
             "u": rng.standard_normal((2, 3)).astype(np.float32)}
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize(("a", "b", "out"), [
    ("[4]", "[4]", ""), ("[4]", "[2,4,3]", "[2,3]"), ("[2,3,5,4]", "[4]", "[2,3,5]"),
    ("[4]", "[4,3]", "[3]")])
def test_matmul_of_a_1d_operand_matches_ort(tmp_path, rng, a, b, out):
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g (float{a} a, float{b} b) => (float{out} y) {{ y = MatMul(a, b) }}"""
    dims = [[int(d) for d in s.strip("[]").split(",")] for s in (a, b)]
    feeds = {"a": rng.standard_normal(dims[0]).astype(np.float32),
             "b": rng.standard_normal(dims[1]).astype(np.float32)}
    emitted_matches(tmp_path, text, feeds)


# ai.onnx.preview.training --------------------------------------------------------------

TRAINING = """<ir_version: 7, opset_import: ["ai.onnx.preview.training" : 1]>
g (float r, int64 t, {inputs}) => ({outputs}) {{
    {outputs_names} = ai.onnx.preview.training.{op}<{attrs}>(r, t, {names})
}}"""


def _optimizer(op: str, state: list[str], attrs: str) -> tuple[str, list[str]]:
    """A model updating two tensors (shapes [3] and [2,2]) by `op`, and its input names."""
    shapes = {"1": "[3]", "2": "[2,2]"}
    names = [f"{kind}{i}" for kind in ["x", "g", *state] for i in "12"]
    outs = [f"{kind}{i}_new" for kind in ["x", *state] for i in "12"]
    text = TRAINING.format(
        inputs=", ".join(f"float{shapes[n[-1]]} {n}" for n in names),
        outputs=", ".join(f"float{shapes[n[-5]]} {n}" for n in outs),
        outputs_names=", ".join(outs), op=op, attrs=attrs, names=", ".join(names))
    return text, names


@pytest.mark.parametrize("steps", [0, 7])
@pytest.mark.parametrize(("op", "state", "attrs"), [
    ("Adagrad", ["h"], "decay_factor=0.1, epsilon=1e-5, norm_coefficient=0.01"),
    ("Adam", ["v", "h"], "alpha=0.9, beta=0.85, epsilon=0.01, norm_coefficient=0.001, "
                         "norm_coefficient_post=0.02"),
    ("Momentum", ["v"], "alpha=0.95, beta=0.9, mode=\"standard\", norm_coefficient=0.01"),
    ("Momentum", ["v"], "alpha=0.95, beta=0.9, mode=\"nesterov\", norm_coefficient=0.01"),
])
def test_optimizer_step_matches_onnx_reference(tmp_path, rng, steps, op, state, attrs):
    """One update of two tensors, at the first step (T = 0: no bias correction, beta
    taken as 1) and a later one."""
    text, names = _optimizer(op, state, attrs)
    feeds = {"r": np.asarray(0.1, np.float32), "t": np.asarray(steps, np.int64)}
    for name in names:
        shape = (3,) if name.endswith("1") else (2, 2)
        values = rng.standard_normal(shape).astype(np.float32)
        feeds[name] = np.abs(values) if name[0] == "h" else values  # H: squares, never < 0
    emitted_matches(tmp_path, text, feeds, evaluator=True)


# ai.onnx.ml ---------------------------------------------------------------------------

ML = """<ir_version: 9, opset_import: ["ai.onnx.ml" : {version}]>
g ({inputs}) => ({outputs}) {{ {body} }}"""


@pytest.mark.parametrize(("onnx_type", "dtype"), [("float", np.float32), ("int64", np.int64),
                                                  ("int32", np.int32)])
@pytest.mark.parametrize("threshold", [0.5, -1.0, 2.0])
def test_binarizer_matches_onnx_reference(tmp_path, rng, onnx_type, dtype, threshold):
    text = ML.format(version=1, inputs=f"{onnx_type}[4,5] x", outputs=f"{onnx_type}[4,5] y",
                     body=f"y = ai.onnx.ml.Binarizer<threshold={threshold}>(x)")
    x = (rng.standard_normal((4, 5)) * 3).astype(dtype)
    x.flat[:2] = [threshold, -1]  # the threshold itself is not above it
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)


@pytest.mark.parametrize(("shape", "out"), [("[3,4]", "[3,2]"), ("[2,3,4]", "[2,3,2]"),
                                            ("[4]", "[1,2]")])
def test_array_feature_extractor_matches_onnx_reference(tmp_path, rng, shape, out):
    text = ML.format(version=1, inputs=f"float{shape} x, int64[2] i", outputs=f"float{out} z",
                     body="z = ai.onnx.ml.ArrayFeatureExtractor(x, i)")
    dims = [int(d) for d in shape.strip("[]").split(",")]
    feeds = {"x": rng.standard_normal(dims).astype(np.float32),
             "i": np.asarray([3, 1], np.int64)}
    emitted_matches(tmp_path, text, feeds, evaluator=True)


def test_label_encoder_of_int_keys_to_floats(tmp_path, rng):
    text = ML.format(version=2, inputs="int64[6] x", outputs="float[6] y",
                     body="y = ai.onnx.ml.LabelEncoder<keys_int64s=[1, 5, -2], "
                          "values_floats=[0.5, 2.5, -7.0], default_float=9.0>(x)")
    x = np.asarray([5, 1, 0, -2, 7, 5], np.int64)
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)


def test_label_encoder_of_float_keys_with_nan(tmp_path):
    """A NaN key maps NaN inputs (x != x), which EQUAL alone would never match."""
    text = ML.format(version=2, inputs="float[5] x", outputs="int64[5] y",
                     body="y = ai.onnx.ml.LabelEncoder<keys_floats=[0.5, nan], "
                          "values_int64s=[3, 4], default_int64=-1>(x)")
    x = np.asarray([0.5, np.nan, 1.0, 0.5, -0.5], np.float32)
    model = model_from_text(text)
    got = run_artifact(emit(model, tmp_path / "m.tflite").path, {"x": x})
    np.testing.assert_array_equal(got["y"], np.asarray([3, 4, -1, 3, -1], np.int64))


def test_label_encoder_of_strings_is_refused():
    text = ML.format(version=2, inputs="string[3] x", outputs="int64[3] y",
                     body="y = ai.onnx.ml.LabelEncoder<keys_strings=[\"a\", \"b\"], "
                          "values_int64s=[0, 1]>(x)")
    refused(text, "maps string tensors")


def test_scan_body_reading_outer_constants_and_computed_shapes(tmp_path, rng):
    """The pattern of LinearAttention's function body: the scan input reshaped by a shape
    computed from Shape, the body unsqueezing by an outer axes constant and scaling by an
    outer value computed from constants. onnx's inference of the body sees neither
    constant's data; the body inferred on its own with them (_fold) gives every rank."""
    text = """<ir_version: 9, opset_import: ["" : 17]>
    g (float[3,1] s0, float[12] x) => (float[3,1] s, float[4,3] y) {
        three = Constant<value=int64[1] {3}>()
        minus = Constant<value=int64[1] {-1}>()
        rows = Concat<axis=0>(minus, three)
        x2 = Reshape(x, rows)
        axes = Constant<value=int64[1] {-1}>()
        nine = Constant<value=float {9.0}>()
        root = Sqrt(nine)
        scale = Reciprocal(root)
        s, y = Scan <num_scan_inputs=1, body=step (float[3,1] s_in, float[3] x_t)
                                                 => (float[3,1] s_out, float[3] y_t) {
            col = Unsqueeze(x_t, axes)
            s_out = Add(s_in, col)
            scaled = Mul(scale, s_out)
            y_t = Squeeze(scaled, axes)
        }>(s0, x2)
    }"""
    feeds = {"s0": rng.standard_normal((3, 1)).astype(np.float32),
             "x": rng.standard_normal(12).astype(np.float32)}
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize(("batch", "data", "indices", "out"), [
    (1, (2, 3, 4), (2, 2, 1), "[2,2,4]"), (1, (2, 3, 4), (2, 2), "[2]"),
    (2, (2, 3, 4, 5), (2, 3, 1, 2), "[2,3,1]")])
@pytest.mark.parametrize("constant", [False, True])
def test_gathernd_with_batch_dims_matches_ort(tmp_path, rng, batch, data, indices, out,
                                              constant):
    """Negative indices included; the indices a graph input or a constant."""
    sizes = data[batch:batch + indices[-1]]
    index = np.stack([rng.integers(-s, s, indices[:-1]) for s in sizes], axis=-1)
    dims = ",".join(map(str, data))
    if constant:
        values = ", ".join(map(str, index.ravel()))
        given = f"i = Constant<value=int64[{','.join(map(str, indices))}] {{{values}}}>()"
        inputs = f"float[{dims}] x"
    else:
        given, inputs = "", f"float[{dims}] x, int64[{','.join(map(str, indices))}] i"
    text = f"""<ir_version: 9, opset_import: ["" : 13]>
    g ({inputs}) => (float{out} y) {{
        {given}
        y = GatherND<batch_dims={batch}>(x, i)
    }}"""
    feeds = {"x": rng.standard_normal(data).astype(np.float32)}
    if not constant:
        feeds["i"] = index.astype(np.int64)
    emitted_matches(tmp_path, text, feeds)


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
def test_tree_ensemble_matches_onnx_reference(tmp_path, rng, aggregate):
    """Two trees, the compare modes LEQ, GT, NEQ and GTE, a missing value that goes the
    true way; each aggregate function."""
    text = f"""<ir_version: 10, opset_import: ["ai.onnx.ml" : 5]>
    g (float[8,2] x) => (float[8,2] y) {{
        y = ai.onnx.ml.TreeEnsemble<aggregate_function={aggregate}, n_targets=2,
            leaf_targetids=[0, 1, 0, 1, 1, 0],
            leaf_weights=float[6] {{1.5, -2.0, 0.25, 3.0, 7.0, -1.0}},
            nodes_featureids=[0, 1, 0, 1], nodes_modes=uint8[4] {{0, 3, 5, 2}},
            nodes_splits=float[4] {{0.1, -0.3, 0.5, 0.0}}, nodes_truenodeids=[1, 0, 2, 4],
            nodes_trueleafs=[0, 1, 1, 1], nodes_falsenodeids=[2, 1, 3, 5],
            nodes_falseleafs=[0, 1, 1, 1], nodes_missing_value_tracks_true=[1, 0, 0, 0],
            post_transform=0, tree_roots=[0, 3]>(x)
    }}"""
    x = rng.standard_normal((8, 2)).astype(np.float32)
    x[0, 0], x[1] = np.nan, [0.1, -0.3]  # missing, and splits met exactly
    emitted_matches(tmp_path, text, {"x": x}, evaluator=True)
