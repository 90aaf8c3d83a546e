"""Generated inputs are valid by construction, and inputs the user gives reach every proof.

fix and convert prove each rewrite by running the model on inputs: the user's (--inputs),
else generated ones. A generated index past the end of what it indexes, or a negative
Resize scale, made valid models look broken (exit 2, "could not find input shapes").
"""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import load_tool, model_from_text, run_ort

import graphkit
from graphkit.cli import main
from graphkit.validation import ModelRunner, make_inputs

HEADER = '<ir_version: 10, opset_import: ["" : 18]>'
SEEDS = range(6)


@functools.cache
def conformance_case(name: str):
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators' own numpy overflow warnings
        return next(case for case in collect_testcases(None) if case.name == name)


# --- the three conformance models fix refused (issue 10) ---

@pytest.mark.parametrize("name", ["test_gathernd_example_float32", "test_cumsum_2d_axis_1",
                                  "test_resize_upsample_scales_linear"])
def test_valid_conformance_models_are_fixed_without_inputs(name, tmp_path, capsys):
    case = conformance_case(name)
    source, output = tmp_path / "model.onnx", tmp_path / "fixed.onnx"
    onnx.save(case.model, source)
    assert main(["fix", str(source), "--target", "ort", "-o", str(output),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validation"]["ok"] and report["validation"]["outputs"]
    # The fixed model computes what the case expects, on the case's own inputs.
    feeds = load_tool("generated_inputs").case_inputs(case)
    for actual, expected in zip(run_ort(onnx.load(output), feeds), case.data_sets[0][1]):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


# --- each kind of operand: the model runs on the generated inputs, seed after seed ---

def runs_on_generated_inputs(text: str, shapes: dict[str, tuple[int, ...]]) -> list[dict]:
    """The generated feeds for SEEDS; each one runs on ONNX Runtime (or raises)."""
    model = model_from_text(f"{HEADER}\n{text}")
    runner = ModelRunner(model)
    drawn = [make_inputs(model, shapes, seed) for seed in SEEDS]
    for feeds in drawn:
        runner.run(feeds)
    return drawn


def test_token_type_ids_through_a_cast_index_the_rows_the_table_has():
    """BERT's token types: an embedding of 2 rows, read through a Cast."""
    drawn = runs_on_generated_inputs("""
        g (int32[batch, seq] token_type_ids) => (float[batch, seq, 4] y)
        <float[2, 4] table = {1, 2, 3, 4, 5, 6, 7, 8}> {
            ids = Cast<to = 7>(token_type_ids)
            y = Gather(table, ids)
        }""", {"token_type_ids": (2, 16)})
    values = np.concatenate([feeds["token_type_ids"].ravel() for feeds in drawn])
    assert set(values) == {0, 1}  # both rows used, nothing past them


def test_indices_follow_the_concrete_shape_of_a_dynamic_data_input():
    drawn = runs_on_generated_inputs("""
        g (float[n, 3] data, int64[k, 3] rows, int64[m, 1] tuples) => (float[k, 3] y,
                                                                         float[m, 3] z) {
            y = GatherElements<axis = 0>(data, rows)
            z = GatherND(data, tuples)
        }""", {"data": (2, 3), "rows": (5, 3), "tuples": (4, 1)})
    assert all(feeds["rows"].max() < 2 and feeds["tuples"].max() < 2 for feeds in drawn)


def test_scatter_and_topk_operands_fit_the_data():
    drawn = runs_on_generated_inputs("""
        g (float[2, 2] data, int64[3, 1] where, float[3, 2] updates, int64[1] k)
          => (float[2, 2] y, float[2, kk] top, int64[2, kk] at) {
            y = ScatterND(data, where, updates)
            top, at = TopK(data, k)
        }""", {"data": (2, 2), "where": (3, 1), "updates": (3, 2), "k": (1,)})
    assert all(1 <= feeds["k"][0] <= 2 for feeds in drawn)


def test_axis_operands_name_axes_the_data_has():
    drawn = runs_on_generated_inputs("""
        g (float[2, 3] x, int32 axis, int64[2] axes, float[1, 3, 1, 5] w, int64[2] ones)
          => (float[2, 3] y, float[a, b] r, float[3, 5] s) {
            y = CumSum(x, axis)
            r = ReduceSum(x, axes)
            s = Squeeze(w, ones)
        }""", {"x": (2, 3), "axis": (), "axes": (2,), "w": (1, 3, 1, 5), "ones": (2,)})
    for feeds in drawn:
        assert sorted(feeds["axes"]) == [0, 1] and sorted(feeds["ones"]) == [0, 2]


def test_split_sizes_add_up_and_shapes_hold_the_data():
    drawn = runs_on_generated_inputs("""
        g (float[7, 2] x, int64[3] split, float[2, 3, 4] v, int64[2] shape, float[3, 1] e,
           int64[3] to) => (float[a, 2] p, float[b, 2] q, float[c, 2] r, float[d, f] v2,
                            float[g, h, i] e2) {
            p, q, r = Split<axis = 0>(x, split)
            v2 = Reshape(v, shape)
            e2 = Expand(e, to)
        }""", {"x": (7, 2), "split": (3,), "v": (2, 3, 4), "shape": (2,), "e": (3, 1),
               "to": (3,)})
    assert all(feeds["split"].sum() == 7 for feeds in drawn)


def test_slice_steps_divisors_depths_and_deltas_are_never_zero():
    drawn = runs_on_generated_inputs("""
        g (float[6, 4] x, int64[2] starts, int64[2] ends, int64[2] axes, int64[2] steps,
           int32[4] a, int32[4] b, int64[3] hot, float depth, float[2] values, int64 start,
           int64 limit, int64 delta) => (float[c, d] y, int32[4] q, float[3, n] o, int64[m] seq) {
            y = Slice(x, starts, ends, axes, steps)
            q = Div(a, b)
            o = OneHot(hot, depth, values)
            seq = Range(start, limit, delta)
        }""", {"x": (6, 4), "starts": (2,), "ends": (2,), "axes": (2,), "steps": (2,),
               "a": (4,), "b": (4,), "hot": (3,), "depth": (), "start": (), "limit": (),
               "delta": (), "values": (2,)})
    assert all(feeds["steps"].min() > 0 and feeds["b"].min() > 0 for feeds in drawn)


def test_resize_scales_and_sizes_are_positive_and_match_the_declared_output():
    drawn = runs_on_generated_inputs("""
        g (float[1, 2, 3, 3] x, float[0] roi, float[4] scales, int64[4] sizes)
          => (float[1, 2, 6, 9] y, float[1, 2, 6, 9] z) {
            y = Resize<mode = "linear">(x, roi, scales)
            z = Resize<mode = "nearest">(x, roi, "", sizes)
        }""", {"x": (1, 2, 3, 3), "roi": (0,), "scales": (4,), "sizes": (4,)})
    np.testing.assert_array_equal(drawn[0]["scales"], [1, 1, 2, 3])
    np.testing.assert_array_equal(drawn[0]["sizes"], [1, 2, 6, 9])


def test_an_input_no_rule_covers_keeps_the_default_draw():
    model = model_from_text(f"""{HEADER}
        g (int64[8] k, float[8] x) => (int64[8] k2, float[8] y) {{
            k2 = Add(k, k)
            y = Relu(x)
        }}""")
    feeds = make_inputs(model, {"k": (8,), "x": (8,)}, seed=0)
    rng = np.random.default_rng(0)  # the draw make_inputs has always made
    np.testing.assert_array_equal(feeds["k"], rng.integers(0, 4, size=(8,)))
    np.testing.assert_array_equal(feeds["x"], rng.standard_normal(size=(8,)).astype(np.float32))


def test_a_malformed_consumer_leaves_the_default_draw():
    """Hostile models: an axis attribute of the wrong type is the checker's to name, not a
    crash (exit 3) while inputs are generated."""
    model = model_from_text(f"""{HEADER}
        g (float[3, 4] data, int64[5] idx) => (float[5, 4] y) {{
            y = Gather<axis = 0>(data, idx)
        }}""")
    model.graph.node(0).attributes["axis"] = ir.AttrFloat32("axis", 0.5)
    feeds = make_inputs(model, {"data": (3, 4), "idx": (5,)}, seed=0)
    assert feeds["idx"].shape == (5,) and feeds["idx"].dtype == np.int64


def test_a_passthrough_node_without_outputs_is_not_followed():
    ids = ir.Value(name="ids", type=ir.TensorType(ir.DataType.INT64), shape=ir.Shape([3]))
    cast = ir.Node("", "Cast", [ids], attributes=[ir.AttrInt64("to", 7)], num_outputs=0)
    model = ir.Model(ir.Graph([ids], [], nodes=[cast], opset_imports={"": 18}), ir_version=10)
    assert make_inputs(model, {"ids": (3,)}, seed=0)["ids"].shape == (3,)


# --- the one-case-per-op sample: no case inputs needed wherever they work ---

SAMPLE_OPS = ["Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements",
              "CumSum", "Split", "Squeeze", "Unsqueeze", "Expand", "Reshape", "Slice", "TopK",
              "OneHot", "AffineGrid", "Resize", "Upsample", "ReduceSum", "Tile", "Pad"]


def test_the_conformance_sample_passes_with_generated_inputs_wherever_with_its_own():
    tool = load_tool("generated_inputs")
    cases = tool.one_case_per_op(SAMPLE_OPS)
    assert sorted(cases) == sorted(SAMPLE_OPS)
    outcomes = tool.measure(cases)
    assert all(not o.with_inputs for o in outcomes), outcomes  # the cases themselves are valid
    assert [o for o in outcomes if o.regressed] == []


# --- sequence-typed inputs: a list of tensors, given or generated ---

SEQUENCE_SUM = f"""{HEADER}
g (seq(float[N]) parts) => (float[M] joined, int64 count) {{
    joined = ConcatFromSequence<axis = 0>(parts)
    count = SequenceLength(parts)
}}"""


def test_a_sequence_input_is_generated_as_a_list_of_tensors():
    model = model_from_text(SEQUENCE_SUM)
    fixed, report = graphkit.fix(model, "ort")
    assert report.validated and report.validation
    parts = [np.arange(3, dtype=np.float32), np.ones(3, np.float32)]
    np.testing.assert_array_equal(run_ort(fixed, {"parts": parts})[0], np.concatenate(parts))


def test_a_sequence_input_may_be_given():
    parts = [np.arange(2, dtype=np.float32), np.ones(2, np.float32), np.zeros(2, np.float32)]
    _, report = graphkit.fix(model_from_text(SEQUENCE_SUM), "ort", inputs={"parts": parts})
    assert report.validated and report.validation
