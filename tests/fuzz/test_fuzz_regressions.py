"""Crashes the fuzzer found (tools/fuzz.py), each rebuilt in code as the smallest model that
shows it. Before the fix each was exit 3 (a builtin exception escaping graphkit)."""

from __future__ import annotations

import onnx
import onnx_ir as ir
import pytest
from onnx import AttributeProto, TensorProto
from onnx import helper as h

import graphkit
from graphkit._generated_inputs import MAX_GENERATED_ELEMENTS, make_inputs
from graphkit.errors import InputError
from graphkit.validation import candidate_shapes


def _add_constant(constant: onnx.NodeProto, x_shape: list) -> onnx.ModelProto:
    """y = x + c, with `constant` making c."""
    graph = h.make_graph(
        [constant, h.make_node("Add", ["x", "c"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, x_shape and list(x_shape))],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def test_a_model_no_runtime_can_open_is_an_input_error():
    """Mutant 2-35: a Constant with no value. ORT and the reference evaluator both refuse it;
    fix raised RuntimeError (exit 3). The loader now refuses it first, naming the node."""
    model = _add_constant(h.make_node("Constant", [], ["c"]), [2])
    with pytest.raises(InputError, match=r"node #0 \(Constant\): a Constant needs exactly one "
                                         r"value attribute, has none"):
        graphkit.fix(model, "ort")


@pytest.mark.parametrize("target", ["ort", "tflite", "tensorrt", "torchscript"])
@pytest.mark.parametrize("kind", [AttributeProto.INT, AttributeProto.STRING])
def test_a_constant_whose_value_is_not_a_tensor_does_not_crash_diagnose(target, kind):
    """Mutant 2-437: a Constant's `value` attribute of another type (min_opset read .dtype).
    The loader refuses it now, before any analysis, naming the node and the attribute."""
    constant = h.make_node("Constant", [], ["c"])
    constant.attribute.add(name="value", type=kind, i=3, s=b"abc")
    with pytest.raises(InputError, match=r"node #0 \(Constant\): attribute 'value' is "):
        graphkit.diagnose(_add_constant(constant, [2]), target)


def _input_model(shape: list[int]) -> ir.Model:
    x = ir.Value(name="x", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape(shape))
    node = ir.node("Relu", [x])
    return ir.Model(ir.Graph([x], node.outputs, nodes=[node], opset_imports={"": 17}),
                    ir_version=10)


def test_a_negative_input_dim_is_refused_before_generating_data():
    """Mutant 2-38: an input declared [-4, 2]; numpy raised ValueError."""
    model = _input_model([-4, 2])
    with pytest.raises(InputError, match=r"input 'x' has a negative dim in its shape \[-4, 2\]"):
        make_inputs(model, {"x": (-4, 2)})


def test_an_input_too_large_to_generate_is_refused_before_allocating():
    """Mutant 2-199: an input declared [3, 1, 2**31]; numpy tried to allocate 48 GiB."""
    model = _input_model([3, 1, 1 << 31])
    with pytest.raises(InputError, match="6,442,450,944 elements, more than graphkit generates"):
        make_inputs(model, {"x": (3, 1, 1 << 31)})


def test_fix_refuses_an_input_too_large_to_generate():
    big = 1 << 31
    assert big > MAX_GENERATED_ELEMENTS
    with pytest.raises(InputError, match="more than graphkit generates"):
        graphkit.fix(_input_model([3, 1, big]), "ort")


@pytest.mark.parametrize("attributes", [{}, {"value": "abc"}])
def test_an_unreadable_shape_constant_is_not_a_candidate_shape(attributes):
    """Mutants 2-1765 and 2-1710: a Reshape whose shape is a Constant with no tensor; reading
    it for candidate input shapes raised ValueError/TypeError (exit 3)."""
    x = ir.Value(name="x", type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape(["N"]))
    constant = ir.node("Constant", [], attributes=attributes)
    reshape = ir.node("Reshape", [x, constant.outputs[0]])
    graph = ir.Graph([x], reshape.outputs, nodes=[constant, reshape], opset_imports={"": 17})
    assert candidate_shapes(ir.Model(graph, ir_version=10)) == [{"x": (1,)}]


def _fix_to(tmp_path, model: onnx.ModelProto) -> tuple[int, str, bool]:
    """`graphkit fix` on the model: (exit code, stderr, whether it wrote the output)."""
    from graphkit.cli import main

    source, output = tmp_path / "m.onnx", tmp_path / "fixed.onnx"
    onnx.save(model, source)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["fix", str(source), "-t", "ort", "-o", str(output)])
    return code, err.getvalue(), output.exists()


def test_a_model_ort_finds_ill_typed_is_refused_not_run_on_the_evaluator(tmp_path):
    """Mutant 20261204-137: an output declared float that the graph computes as bool. ORT
    refuses the model ('Type Error'); the reference evaluator ran it anyway, so fix 'proved'
    and wrote a model ORT cannot load (exit 0)."""
    graph = h.make_graph(
        [h.make_node("Cast", ["x"], ["y"], to=TensorProto.BOOL)], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "the model is not valid ONNX (ONNX Runtime: Type Error" in err


def test_an_op_onnx_does_not_define_at_the_models_opset_is_refused(tmp_path):
    """Mutant 3-132 (change_opset): HannWindow at opset 13, though it came in 17. ORT says
    'No Op registered', as it does for ops newer than itself; ONNX's schemas decide."""
    graph = h.make_graph(
        [h.make_node("HannWindow", ["size"], ["y"])], "g",
        [h.make_tensor_value_info("size", TensorProto.INT32, [])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "not valid ONNX (ONNX Runtime: No Op registered for HannWindow" in err


def test_a_valid_op_ort_has_no_kernel_for_still_runs_on_the_evaluator():
    """The evaluator's purpose: Expand on bfloat16 has no ORT kernel (NOT_IMPLEMENTED)."""
    import numpy as np
    from ml_dtypes import bfloat16

    from graphkit.runner import ModelRunner

    graph = h.make_graph(
        [h.make_node("Expand", ["x", "shape"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.BFLOAT16, [1]),
         h.make_tensor_value_info("shape", TensorProto.INT64, [1])],
        [h.make_tensor_value_info("y", TensorProto.BFLOAT16, None)],
    )
    runner = ModelRunner(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]))
    assert runner.runtime == "onnx-reference"
    out = runner.run({"x": np.array([1.5], bfloat16), "shape": np.array([3], np.int64)})
    np.testing.assert_array_equal(out["y"].astype(np.float32), [1.5, 1.5, 1.5])


@pytest.mark.parametrize("op_type", ["Min", "Sum", "Add"])
def test_an_empty_required_input_is_refused_before_ort_sees_it(op_type):
    """Mutant 3-5199 (rename_edge): Min(a, ''). ORT builds the session, then SEGFAULTS when
    it runs (Min, Max, Sum, Mean); for Add it says INVALID_GRAPH."""
    from graphkit.runner import ModelRunner

    graph = h.make_graph(
        [h.make_node(op_type, ["a", ""], ["y"], name="n")], "g",
        [h.make_tensor_value_info("a", TensorProto.FLOAT, [3])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    with pytest.raises(InputError, match=rf"{op_type} node 'n' leaves its input 1 \('\w+'\) "
                                         "empty, which the op requires"):
        ModelRunner(model)


def test_a_node_onnx_cannot_build_a_function_body_for_does_not_crash_diagnose():
    """Mutant 4-1362 (drop_attribute): SequenceMap without its `body`; onnx's builder of the
    context-dependent function raised ValueError out of diagnose."""
    seq = onnx.helper.make_tensor_sequence_value_info
    graph = h.make_graph(
        [h.make_node("SequenceMap", ["x"], ["y"])], "g",
        [seq("x", TensorProto.FLOAT, None)], [seq("y", TensorProto.FLOAT, None)],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    # The loader refuses it now, before diagnose builds any function body.
    with pytest.raises(InputError, match=r"\(SequenceMap\): required attribute 'body' is missing"):
        graphkit.diagnose(model, "ort")


def test_a_model_without_outputs_is_refused(tmp_path):
    """Mutant 4-501 (drop_graph_input took the only output): every node is dead, fix removed
    them all and wrote an empty graph, which ORT refuses to load."""
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [2])], [],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "g: the graph has no outputs" in err


def test_an_ir_version_before_opset_imports_is_refused(tmp_path):
    """Mutant 20261204-132 (change_opset): ir_version 1 with an opset import. ORT runs it, the
    ONNX checker rejects it, and fix wrote it out so (exit 0)."""
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 1
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "(the ONNX checker: model with IR version < 3 cannot have opset_import" in err


def _relu(name: str = "g", x_shape: tuple[int, ...] | None = (2,)) -> onnx.ModelProto:
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"])], name,
        [h.make_tensor_value_info("x", TensorProto.FLOAT, x_shape and list(x_shape))],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def test_a_nameless_graph_is_named_in_what_fix_writes(tmp_path):
    """Mutants 7-5 and 7-4166 (flip_bytes): the graph's name emptied. ORT runs it; fix wrote it
    out as it came, and the checker rejects what it wrote. fix names the graph it writes."""
    with pytest.raises(onnx.checker.ValidationError, match="Field 'name' of 'graph'"):
        onnx.checker.check_model(_relu(name=""))
    code, err, wrote = _fix_to(tmp_path, _relu(name=""))
    assert (code, wrote) == (0, True), err
    onnx.checker.check_model(str(tmp_path / "fixed.onnx"))


def test_an_input_of_unknown_rank_is_not_refused(tmp_path):
    """Mutant 7-974: the checker wants a shape on every graph input; the IR leaves it
    optional, and ORT runs the model. fix takes it (and writes it as it came)."""
    with pytest.raises(onnx.checker.ValidationError, match="Field 'shape' of 'type'"):
        onnx.checker.check_model(_relu(x_shape=None))
    code, err, wrote = _fix_to(tmp_path, _relu(x_shape=None))
    assert (code, wrote) == (0, True), err


def test_the_checker_is_asked_without_a_proof_too(tmp_path):
    model = _relu()
    model.ir_version = 1  # with opset imports: the checker's rule, which ORT does not apply
    with pytest.raises(InputError, match="the ONNX checker: "):
        graphkit.fix(model, "ort", validate=False)
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(InputError, match="the ONNX checker: "):
        graphkit.convert(str(tmp_path / "m.onnx"), "ort", tmp_path / "o.onnx", fix=False)
    assert not (tmp_path / "o.onnx").exists()


def test_an_opset_of_another_domain_newer_than_onnx_knows_is_refused(tmp_path):
    """Mutant 7-2320 (change_opset): ai.onnx.preview.training at opset 17 (onnx defines 1).
    ORT calls it 'under development'; the reference evaluator ran it and fix wrote it out."""
    floats = [h.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("x", "g", "v", "m")]
    adam = h.make_node("Adam", ["r", "t", "x", "g", "v", "m"], ["x2", "v2", "m2"],
                       domain="ai.onnx.preview.training")
    graph = h.make_graph(
        [adam], "adam",
        [h.make_tensor_value_info("r", TensorProto.FLOAT, []),
         h.make_tensor_value_info("t", TensorProto.INT64, []), *floats],
        [h.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("x2", "v2", "m2")],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17),
                                               h.make_opsetid("ai.onnx.preview.training", 17)])
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "not valid ONNX (ONNX Runtime: " in err and "Opset 17 is under development" in err


def test_an_opset_newer_than_onnx_and_ort_know_is_refused(tmp_path):
    """Mutant 5-119 (change_opset): opset 99. ORT says 'under development' and the evaluator
    ran it with the newest schemas it has."""
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 99)])
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "not valid ONNX (ONNX Runtime: " in err and "Opset 99 is under development" in err


def test_a_subgraph_ort_cannot_type_is_refused(tmp_path):
    """Mutant 7-5905 (drop_attribute): an Optional with neither input nor type, inside If.
    ORT's type inference refuses it ([TypeInferenceError]); the reference evaluator ran it
    and fix wrote it out as it came."""
    def branch(name: str) -> onnx.GraphProto:
        return h.make_graph(
            [h.make_node("Optional", [], ["o"]), h.make_node("OptionalHasElement", ["o"], ["r"])],
            name, [], [h.make_tensor_value_info("r", TensorProto.BOOL, [])])

    node = h.make_node("If", ["c"], ["y"], then_branch=branch("t"), else_branch=branch("e"))
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("c", TensorProto.BOOL, [])],
                         [h.make_tensor_value_info("y", TensorProto.BOOL, [])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    code, err, wrote = _fix_to(tmp_path, model)
    assert (code, wrote) == (2, False), err
    assert "not valid ONNX (ONNX Runtime: " in err and "TypeInferenceError" in err


# --- the TFLite emitter stage (tools/fuzz.py --emit tflite): diagnose and emit agree ------


def _tflite_verdicts(model: onnx.ModelProto, tmp_path) -> tuple[list[str], str]:
    """(diagnose's blocker messages, emit's InputError message)."""
    from graphkit.backends.tflite.emitter import emit

    blockers = [f.message for f in graphkit.diagnose(model, "tflite").blockers]
    with pytest.raises(InputError) as refused:
        emit(graphkit.load(model), tmp_path / "m.tflite")
    return blockers, str(refused.value)


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT8E5M2, TensorProto.BFLOAT16])
def test_a_computed_value_no_tflite_tensor_holds_is_refused_by_both(tmp_path, dtype):
    """Mutants 7-9 and 7-144: a ReduceSum whose axes input is float8 (a graph input, not a
    constant). diagnose passed it; emit raised ValueError from the flatbuffer builder."""
    graph = h.make_graph(
        [h.make_node("ReduceSum", ["x", "axes"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2]),
         h.make_tensor_value_info("axes", dtype, [1])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    blockers, refused = _tflite_verdicts(model, tmp_path)
    assert any("'axes'" in b and "no TFLite tensor holds" in b for b in blockers), blockers
    assert "no TFLite tensor holds" in refused and "'axes'" in refused


def test_an_unused_input_no_tflite_tensor_holds_is_refused_by_both(tmp_path):
    """An input of type float8 that no node reads: emit would make a tensor for it."""
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
         h.make_tensor_value_info("z", TensorProto.FLOAT8E4M3FN, [2])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    blockers, refused = _tflite_verdicts(model, tmp_path)
    assert any("input 'z'" in b for b in blockers), blockers
    assert "input 'z'" in refused


def test_an_input_dim_past_int32_is_refused_by_both(tmp_path):
    """Mutant 7-224: an input dim of 2**31. diagnose passed it; emit raised TypeError from
    flatbuffers packing the shape (TFLite's dims are int32)."""
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2**31])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    blockers, refused = _tflite_verdicts(model, tmp_path)
    assert any("input 'x'" in b and "int32" in b for b in blockers), blockers
    assert "input 'x'" in refused and "int32" in refused


def test_gather_with_bool_indices_is_refused_by_both(tmp_path):
    """Mutant 7-129: Gather whose indices are bool (ONNX wants int32 or int64). diagnose
    passed it; LiteRT refused the emitted GATHER when preparing it."""
    graph = h.make_graph(
        [h.make_node("Gather", ["x", "i"], ["y"])], "g",
        [h.make_tensor_value_info("x", TensorProto.BOOL, [3, 4]),
         h.make_tensor_value_info("i", TensorProto.BOOL, [3, 4])],
        [h.make_tensor_value_info("y", TensorProto.BOOL, None)],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    blockers, refused = _tflite_verdicts(model, tmp_path)
    assert any("indices are bool" in b for b in blockers), blockers
    assert "node 'Gather'" in refused or "(Gather)" in refused


def test_an_ill_typed_node_is_refused_by_both(tmp_path):
    """Mutants 7-35, 20261204-63: Mul of float32 by bool (its schema gives A and B one
    type T). diagnose passed it; LiteRT refused the emitted MUL when preparing it."""
    graph = h.make_graph(
        [h.make_node("Mul", ["a", "b"], ["y"])], "g",
        [h.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
         h.make_tensor_value_info("b", TensorProto.BOOL, [2, 3])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 14)])
    blockers, refused = _tflite_verdicts(model, tmp_path)
    assert any("'a' is float and 'b' is bool" in b for b in blockers), blockers
    assert "(Mul)" in refused


def test_inputs_that_cannot_broadcast_are_refused_by_both(tmp_path):
    """Mutants 7-100, 7-284: Sub of [3, 7, 5] and [3, 4, 5]. diagnose passed it; LiteRT
    refused the emitted SUB when preparing it."""
    graph = h.make_graph(
        [h.make_node("Sub", ["a", "b"], ["y"])], "g",
        [h.make_tensor_value_info("a", TensorProto.FLOAT, [3, 7, 5]),
         h.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4, 5])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 14)])
    blockers, refused = _tflite_verdicts(model, tmp_path)
    assert any("do not broadcast" in b for b in blockers), blockers
    assert "(Sub)" in refused
