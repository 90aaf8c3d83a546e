"""opsets/ort.toml: kernel limits the registry does not state, each checked against ORT itself.

Every case is a pair: the node ORT refuses (diagnose must block it, ORT must fail) and its
nearest neighbour that ORT runs (diagnose must pass it, ORT must run it).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort
import pytest
from _helpers import header
from conftest import model_from_text, run_ort

import graphkit
from graphkit.errors import InputError
from graphkit.targets._data import load_target_data, parse_target_data
from graphkit.targets._predicates_kernels import _locale_installed

RNN = """
g (float[{x}] x, float[1,{g},2] w, float[1,{g},{h}] r) => (float[{y}] y) {{
  y = {op}<hidden_size = {h}, layout = {layout}>(x, w, r)
}}"""
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def ort_runs(text: str, feeds: dict[str, np.ndarray], opset: int = 21) -> bool:
    try:
        run_ort(model_from_text(header(opset, 10) + text), feeds)
    except Exception:
        return False
    return True


def verdict(text: str, opset: int = 21) -> tuple[bool, list[str]]:
    report = graphkit.diagnose(model_from_text(header(opset, 10) + text), "ort")
    return report.convertible, [f.code for f in report.findings]


def rnn_case(op: str, layout: int) -> tuple[str, dict[str, np.ndarray]]:
    hidden, seq, batch = 3, 4, 2
    x_shape = (batch, seq, 2) if layout else (seq, batch, 2)
    y_shape = (batch, seq, 1, hidden) if layout else (seq, 1, batch, hidden)
    gates = GATES[op] * hidden
    text = RNN.format(op=op, layout=layout, h=hidden, g=gates,
                      x=",".join(map(str, x_shape)), y=",".join(map(str, y_shape)))
    rng = np.random.default_rng(0)
    feeds = {"x": rng.random(x_shape, np.float32),
             "w": rng.random((1, gates, 2), np.float32),
             "r": rng.random((1, gates, hidden), np.float32)}
    return text, feeds


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_batch_major_recurrent_layout_blocks_as_ort_refuses_it(op):
    for layout, runs in ((0, True), (1, False)):
        text, feeds = rnn_case(op, layout)
        assert ort_runs(text, feeds) is runs
        convertible, found = verdict(text)
        assert convertible is runs
        assert found == ([] if runs else ["GK104"])


CONV_INTEGER = """
g (uint8[1,1,3,3] x, uint8[2,1,2,2] w, uint8 xz, uint8[{n}] wz) => (int32[1,2,2,2] y) {{
  y = ConvInteger(x, w, xz, wz)
}}"""


def test_per_channel_weight_zero_point_of_conv_integer():
    for count, runs in ((1, True), (2, False)):
        text = CONV_INTEGER.format(n=count)
        feeds = {"x": np.ones((1, 1, 3, 3), np.uint8), "w": np.ones((2, 1, 2, 2), np.uint8),
                 "xz": np.array(1, np.uint8), "wz": np.ones(count, np.uint8)}
        assert ort_runs(text, feeds) is runs
        assert verdict(text) == (runs, [] if runs else ["GK110"])


REDUCE = """
g ({t}[2,0,4] d) => ({t}[{out}] r) {{
  axes = Constant<value = int64[1] {{{axis}}}>()
  r = {op}<keepdims = 1>(d, axes)
}}"""


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
@pytest.mark.parametrize(
    ("dtype", "numpy", "axis", "out", "runs"),
    [
        ("bool", bool, 1, "2,1,4", False),  # an empty set reduced: bool has no identity
        ("bool", bool, 2, "2,0,1", True),  # nothing to reduce: the output is empty too
        ("float", np.float32, 1, "2,1,4", True),  # float reduces an empty set to -inf/inf
    ],
)
def test_empty_bool_reduction(op, dtype, numpy, axis, out, runs):
    text = REDUCE.format(t=dtype, op=op, axis=axis, out=out)
    assert ort_runs(text, {"d": np.zeros((2, 0, 4), numpy)}) is runs
    assert verdict(text) == (runs, [] if runs else ["GK110"])


ATTENTION = """
g (float[1,2,3,4] q, float[1,2,5,4] k, float[1,2,5,4] v, float[1,2,3,{m}] mask)
  => (float[1,2,3,4] y) {{
  y = Attention(q, k, v, mask)
}}"""


def test_attention_mask_must_span_every_key():
    rng = np.random.default_rng(0)
    for keys, runs in ((5, True), (4, False)):
        text = ATTENTION.format(m=keys)
        feeds = {"q": rng.random((1, 2, 3, 4), np.float32),
                 "k": rng.random((1, 2, 5, 4), np.float32),
                 "v": rng.random((1, 2, 5, 4), np.float32),
                 "mask": np.zeros((1, 2, 3, keys), np.float32)}
        assert ort_runs(text, feeds, opset=23) is runs
        assert verdict(text, opset=23) == (runs, [] if runs else ["GK110"])


NORMALIZER = """
g (string[2] x) => (string[N] y) {{
  y = StringNormalizer<case_change_action = "{action}", is_case_sensitive = {sensitive},
                       locale = "{locale}", stopwords = ["monday"]>(x)
}}"""


def test_string_normalizer_needs_its_locale_on_this_machine():
    feeds = {"x": np.array(["Monday", "tuesday"], dtype=object)}
    missing = "xx_NOWHERE.UTF-8"
    assert not _locale_installed(missing)
    # Changing case, or matching stopwords without case (the default), loads the locale.
    for action, sensitive in (("UPPER", 1), ("NONE", 0)):
        text = NORMALIZER.format(action=action, sensitive=sensitive, locale=missing)
        assert not ort_runs(text, feeds)
        assert verdict(text) == (False, ["GK110"])
    # Neither: the kernel never loads the locale, so a missing one does not matter.
    text = NORMALIZER.format(action="NONE", sensitive=1, locale=missing)
    assert ort_runs(text, feeds) and verdict(text) == (True, [])
    if _locale_installed("C.UTF-8"):
        text = NORMALIZER.format(action="LOWER", sensitive=1, locale="C.UTF-8")
        assert ort_runs(text, feeds) and verdict(text) == (True, [])


def test_overlay_table_is_limits_only():
    data = load_target_data("ort")
    assert data.unlisted == "registry"
    assert all(op.status == "supported" and op.checks for op in data.ops)


def test_overlay_may_omit_opset_but_a_plain_table_may_not():
    base = {"name": "t", "description": "d", "source": "s"}
    overlay = parse_target_data({"target": {**base, "unlisted": "registry"}}, "opsets/t.toml")
    assert overlay.opset[0] == 1
    with pytest.raises(InputError, match="opsets/t.toml: \\[target\\]: missing key 'opset'"):
        parse_target_data({"target": {**base, "unlisted": "unsupported"}}, "opsets/t.toml")
    with pytest.raises(InputError, match="unlisted must be one of"):
        parse_target_data({"target": {**base, "opset": [1, 2], "unlisted": "maybe"}}, "t")


RESIZE = """
g (float[1,1,4,4] x) => (float[1,1,{o},{o}] y) <float[4] scales = {{1, 1, {s}, {s}}}> {{
  y = Resize<mode = "{mode}", coordinate_transformation_mode = "align_corners">(x, , scales)
}}"""


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_align_corners_downsampling_warns_that_ort_differs_from_the_reference(mode):
    from onnx.reference import ReferenceEvaluator

    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    for scale, out, differs in (("0.6", 2, True), ("2", 8, False)):
        text = RESIZE.format(mode=mode, s=scale, o=out)
        model = model_from_text(header(19, 10) + text)
        [got] = run_ort(model, {"x": x})
        [want] = ReferenceEvaluator(ir.to_proto(model)).run(None, {"x": x})
        assert (not np.allclose(got, want, atol=1e-4)) is differs
        convertible, found = verdict(text, opset=19)
        assert convertible and found == (["GK111"] if differs else [])


def test_max_unpool_with_output_shape_warns_that_ort_differs_from_the_reference():
    from onnx.reference import ReferenceEvaluator

    text = """
    g (float[1,1,2,2] x, int64[1,1,2,2] i) => (float[1,1,5,5] y) <int64[4] shape = {1, 1, 5, 5}> {
      y = MaxUnpool<kernel_shape = [2, 2], strides = [2, 2]>(x, i, shape)
    }"""
    feeds = {"x": np.array([[[[5, 6], [7, 8]]]], np.float32),
             "i": np.array([[[[5, 7], [13, 15]]]], np.int64)}
    model = model_from_text(header(21, 10) + text)
    [got] = run_ort(model, feeds)
    [want] = ReferenceEvaluator(ir.to_proto(model)).run(None, feeds)
    assert not np.array_equal(got, want)
    assert verdict(text) == (True, ["GK111"])


# Attribute values ORT's kernel constructors refuse when the session is created. The fuzzer
# found the first of each (mutants the ONNX checker passes and onnx's reference evaluator
# runs anyway); each row of this grid is a node ORT either loads or refuses, and diagnose
# must say the same.
def _attr_case(op: str, opset: int, attrs: dict, inputs: list) -> onnx.ModelProto:
    """One `op` node; `inputs`: (name, shape, constant or None for a graph input)."""
    vi = onnx.helper.make_tensor_value_info
    outputs = ["", "y"] if op in GATES else ["y"]  # the recurrent ops' last hidden state
    node = onnx.helper.make_node(op, [name for name, *_ in inputs], outputs, **attrs)
    graph = onnx.helper.make_graph(
        [node], "g", [vi(name, onnx.TensorProto.FLOAT, shape) for name, shape, const in inputs
                      if const is None],
        [vi("y", onnx.TensorProto.FLOAT, None)],
        initializer=[onnx.numpy_helper.from_array(const, name)
                     for name, _, const in inputs if const is not None])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])


def _grid_sample(opset, **attrs):
    return _attr_case("GridSample", opset, attrs, [("x", [1, 1, 4, 4], None),
                                                   ("grid", [1, 2, 2, 2], None)])


def _cumulative(op, **attrs):
    return _attr_case(op, 26 if op == "CumProd" else 14, attrs, [("x", [2, 3], None),
                                      ("axis", [], np.array(1, np.int64))])


def _recurrent(op, **attrs):
    gates = GATES[op] * 2
    return _attr_case(op, 26 if op == "CumProd" else 14, attrs, [("x", [4, 1, 3], None),
                                      ("w", [1, gates, 3], np.ones((1, gates, 3), np.float32)),
                                      ("r", [1, gates, 2], np.ones((1, gates, 2), np.float32))])


def _resize(opset, **attrs):
    return _attr_case("Resize", opset, attrs, [
        ("x", [1, 1, 4, 4], None), ("roi", [0], np.zeros(0, np.float32)),
        ("scales", [4], np.array([1, 1, 2, 2], np.float32))])


KERNEL_ATTRIBUTE_CASES = {
    **{f"GridSample-{opset}-{mode}": _grid_sample(opset, mode=mode)
       for opset in (16, 20) for mode in ("bilinear", "bicubic", "linear", "cubic", "nearest")},
    "GridSample-16-padding": _grid_sample(16, padding_mode="wrap"),
    **{f"{op}-{attr}-{value}": _cumulative(op, **{attr: value})
       for op in ("CumProd", "CumSum") for attr in ("exclusive", "reverse")
       for value in (1, -1, 2)},
    **{f"{op}-hidden_size-{size}": _recurrent(op, **({} if size is None else {"hidden_size": size}))
       for op in GATES for size in (None, 0, 2)},
    **{f"Resize-{opset}-{mode}-aa{aa}": _resize(opset, mode=mode, exclude_outside=1,
                                                **({} if aa is None else {"antialias": aa}))
       for opset, aas in ((13, (None,)), (19, (0, 1))) for mode in ("nearest", "linear", "cubic")
       for aa in aas},
    "Resize-19-nearest-antialias": _resize(19, mode="nearest", antialias=1),
}


@pytest.mark.parametrize("name", sorted(KERNEL_ATTRIBUTE_CASES))
def test_kernel_attribute_limits_block_as_ort_refuses_them(name):
    proto = KERNEL_ATTRIBUTE_CASES[name]
    try:
        ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        loads = True
    except Exception as err:
        assert "Exception during initialization" in str(err)  # a kernel constructor's refusal
        loads = False
    report = graphkit.diagnose(ir.serde.deserialize_model(proto), "ort")
    assert report.convertible is loads, [f.message for f in report.findings]
    if not loads:
        assert {f.code for f in report.findings} == {"GK104"}


def test_convert_refuses_what_diagnose_blocks_in_diagnoses_words(tmp_path):
    """ORT itself would refuse the artifact with a C++ assertion; convert names the node
    and the finding first, and writes nothing."""
    output = tmp_path / "cumprod.onnx"
    model = ir.serde.deserialize_model(KERNEL_ATTRIBUTE_CASES["CumProd-exclusive--1"])
    refusal = r"ort cannot run the model: GK104 at .*CumProd.*exclusive=-1"
    with pytest.raises(InputError, match=refusal):
        graphkit.convert(model, "ort", output)
    assert list(tmp_path.iterdir()) == []


def test_fix_says_when_the_proof_ran_on_the_reference_evaluator(tmp_path, capsys):
    from graphkit.cli import main

    source = tmp_path / "grid_sample.onnx"
    onnx.save(KERNEL_ATTRIBUTE_CASES["GridSample-16-linear"], source)
    assert main(["fix", str(source), "--target", "tflite", "-o", str(tmp_path / "out.onnx")]) == 1
    said = capsys.readouterr().out
    assert "the proof ran on onnx's reference evaluator" in said
