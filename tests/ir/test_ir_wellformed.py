"""The well-formedness check: what it accepts (and how the loader then fixes it), what it names."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import run_ort
from onnx import helper

from graphkit.errors import InputError
from graphkit.ir import check_well_formed, model_from_proto

FLOAT = onnx.TensorProto.FLOAT


def _model(nodes, inputs=("x",), outputs=("y",), initializers=(), functions=()) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(name, FLOAT, [3]) for name in inputs],
        [helper.make_tensor_value_info(name, FLOAT, [3]) for name in outputs],
        list(initializers),
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    return helper.make_model(graph, opset_imports=opsets, functions=list(functions))


def _if(name: str, then_reads: str, else_reads: str, output: str) -> onnx.NodeProto:
    def branch(reads: str, tag: str) -> onnx.GraphProto:
        out = helper.make_tensor_value_info(f"{tag}_out", FLOAT, [3])
        return helper.make_graph([helper.make_node("Neg", [reads], [f"{tag}_out"])], tag, [], [out])

    return helper.make_node(
        "If",
        ["cond"],
        [output],
        name=name,
        then_branch=branch(then_reads, "then"),
        else_branch=branch(else_reads, "else"),
    )


def test_out_of_order_nodes_are_accepted_sorted_and_keep_their_outputs():
    nodes = [
        helper.make_node("Neg", ["h"], ["y"], name="last"),
        helper.make_node("Relu", ["x"], ["h"], name="first"),
    ]
    proto = _model(nodes)
    assert check_well_formed(proto, "m").needs_sort
    model = model_from_proto(proto)
    assert [node.name for node in model.graph] == ["first", "last"]
    x = np.array([-1.0, 0.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(run_ort(model, {"x": x})[0], -np.maximum(x, 0))


def test_a_self_loop_is_a_cycle():
    proto = _model([helper.make_node("Add", ["x", "y"], ["y"], name="acc")])
    with pytest.raises(
        InputError, match=r"m: main graph has a cycle: node 'acc' \(Add\) -> node 'acc'"
    ):
        model_from_proto(proto, origin="m")


def test_subgraphs_may_read_outer_values_defined_later_in_the_file():
    # 'h' is written after the If that reads it inside its branches: unsorted, not broken.
    nodes = [_if("choose", "h", "x", "y"), helper.make_node("Relu", ["x"], ["h"], name="relu")]
    cond = helper.make_tensor_value_info("cond", onnx.TensorProto.BOOL, [])
    proto = _model(nodes)
    proto.graph.input.append(cond)
    model = model_from_proto(proto)
    assert [node.name for node in model.graph] == ["relu", "choose"]  # implicit input respected
    x = np.array([-1.0, 0.5, 2.0], dtype=np.float32)
    out = run_ort(model, {"x": x, "cond": np.array(True)})[0]
    np.testing.assert_array_equal(out, -np.maximum(x, 0))


def test_undefined_value_inside_a_subgraph_names_where():
    proto = _model([_if("choose", "x", "nowhere", "y")])
    proto.graph.input.append(helper.make_tensor_value_info("cond", onnx.TensorProto.BOOL, []))
    with pytest.raises(
        InputError,
        match=r"main graph > If 'choose' attribute 'else_branch': node #0 "
        r"\(Neg\) reads 'nowhere'",
    ):
        model_from_proto(proto, origin="m")


def test_initializer_and_node_output_with_one_name_is_a_duplicate():
    weights = helper.make_tensor("y", FLOAT, [3], [1, 2, 3])
    proto = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], initializers=[weights])
    with pytest.raises(InputError, match="node 'r' \\(Relu\\) writes 'y', which an initializer"):
        model_from_proto(proto)


def test_function_bodies_are_checked_too():
    body = helper.make_function(
        "local",
        "Twice",
        ["a"],
        ["b"],
        [helper.make_node("Add", ["a", "missing"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    proto = _model([helper.make_node("Twice", ["x"], ["y"], domain="local")], functions=[body])
    with pytest.raises(InputError, match="function local.Twice: node #0 \\(Add\\) reads 'missing'"):
        model_from_proto(proto, origin="m")


def test_no_ir_version_is_not_a_model():
    proto = _model([helper.make_node("Relu", ["x"], ["y"])])
    proto.ir_version = 0
    with pytest.raises(InputError, match="declares no IR version"):
        model_from_proto(proto, origin="m")


def test_sparse_initializer_becomes_dense_with_the_same_outputs():
    """onnx-ir drops sparse initializers; the loader densifies them as ORT does."""
    values = helper.make_tensor("w", FLOAT, [2], [5.0, -3.0])
    indices = helper.make_tensor("w_idx", onnx.TensorProto.INT64, [2], [0, 2])
    proto = _model([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")])
    proto.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [3]))
    x = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    expected = run_ort(proto, {"x": x})[0]
    model = model_from_proto(proto)
    assert model.graph.initializers["w"].const_value.numpy().tolist() == [5.0, 0.0, -3.0]
    np.testing.assert_array_equal(run_ort(model, {"x": x})[0], expected)
    np.testing.assert_array_equal(expected, [5.0, 0.0, -12.0])
    assert len(proto.graph.sparse_initializer) == 1  # the caller's proto is not changed


def test_the_check_reads_the_proto_without_changing_it():
    proto = _model([helper.make_node("Neg", ["h"], ["y"]), helper.make_node("Relu", ["x"], ["h"])])
    before = proto.SerializeToString()
    model_from_proto(proto)
    assert proto.SerializeToString() == before
    assert isinstance(model_from_proto(proto), ir.Model)
