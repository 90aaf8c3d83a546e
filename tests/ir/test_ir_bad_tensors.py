"""Tensors whose data does not fit their type and dims, impossible declared types, and
recursive functions: refused at load, one InputError line naming the tensor or function,
before anything is allocated."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import run_graphkit, run_ort
from onnx import helper

import graphkit
from graphkit.errors import InputError

T = onnx.TensorProto


def _tensor(name: str, dims: list[int], raw: bytes | None = b"\0" * 4, dtype: int = T.FLOAT,
            floats: tuple[float, ...] = ()) -> T:
    """A TensorProto written field by field: helper.make_tensor refuses what these tests need."""
    tensor = T(name=name, data_type=dtype, dims=dims, float_data=floats)
    if raw is not None:
        tensor.raw_data = raw
    return tensor


def _with_initializer(tensor: T) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", T.FLOAT, [1])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Add", ["x", tensor.name], ["y"])], "g", [x], [y],
                              [tensor])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _with_constant(tensor: T) -> onnx.ModelProto:
    nodes = [helper.make_node("Constant", [], ["c"], name="const", value=tensor),
             helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    x = helper.make_tensor_value_info("x", T.FLOAT, [1])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _in_if_branch(tensor: T) -> onnx.ModelProto:
    def branch(value: T) -> onnx.GraphProto:
        out = helper.make_tensor_value_info("c", T.FLOAT, None)
        constant = helper.make_node("Constant", [], ["c"], name="k", value=value)
        return helper.make_graph([constant], "branch", [], [out])

    fine = helper.make_tensor("w", T.FLOAT, [1], [1.0])
    node = helper.make_node("If", ["cond"], ["y"], name="choose", then_branch=branch(tensor),
                            else_branch=branch(fine))
    cond = helper.make_tensor_value_info("cond", T.BOOL, [])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    graph = helper.make_graph([node], "g", [cond], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _in_function(tensor: T) -> onnx.ModelProto:
    body = [helper.make_node("Constant", [], ["c"], name="k", value=tensor),
            helper.make_node("Add", ["a", "c"], ["b"])]
    function = helper.make_function("local", "addc", ["a"], ["b"], body,
                                    [helper.make_opsetid("", 17)])
    x = helper.make_tensor_value_info("x", T.FLOAT, [1])
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    graph = helper.make_graph([helper.make_node("addc", ["x"], ["y"], domain="local")], "g", [x],
                              [y])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    return helper.make_model(graph, opset_imports=opsets, functions=[function])


TWO_GB = _tensor("w", [536870912])  # claims 2 GiB of float, holds 4 bytes
BAD_TENSORS = {
    # case: (tensor, what the message says after the tensor's name)
    "2GB-claim": (TWO_GB, "holds 4 bytes of raw data, but 536870912 elements of FLOAT"),
    "1e12-dims": (_tensor("w", [10**12], b""), "holds 0 bytes of raw data, but 1000000000000"),
    "negative-dims": (_tensor("w", [-4], b"\0" * 16), "negative dims [-4]"),
    "undefined-type": (_tensor("w", [1], dtype=T.UNDEFINED), "element type 0 (UNDEFINED)"),
    "unknown-type": (_tensor("w", [1], dtype=99), "element type 99, which ONNX does not define"),
    "short-float-data": (_tensor("w", [5], None, floats=(1.0,)),
                         "holds 1 entries in float_data, but 5 elements of FLOAT"),
    "no-data": (_tensor("w", [3], None), "holds 0 entries in float_data, but 3 elements"),
    "two-fields": (_tensor("w", [1], floats=(1.0,)),
                   "holds data in several fields (raw_data, float_data)"),
}

PLACES = {
    "initializer": (_with_initializer, "main graph: initializer 'w'"),
    "Constant": (_with_constant, "main graph: node 'const' (Constant) attribute 'value'"),
    "subgraph": (_in_if_branch, "main graph > If 'choose' attribute 'then_branch': node 'k'"),
    "function": (_in_function, "function local.addc: node 'k' (Constant) attribute 'value'"),
}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("case", sorted(BAD_TENSORS))
def test_tensor_that_does_not_fit_its_claim_is_named(case, place):
    tensor, said = BAD_TENSORS[case]
    build, where = PLACES[place]
    with pytest.raises(InputError) as caught:
        graphkit.load(build(tensor).SerializeToString())
    message = str(caught.value)
    assert "\n" not in message
    assert where in message and said in message, message


@pytest.mark.parametrize(
    ("dims", "elem_type", "said"),
    [
        ([-4], T.FLOAT, "main graph: input 'x': negative dims [-4]"),
        ([10**12], T.FLOAT, "main graph: input 'x': declares shape [1000000000000], 1e+12"),
        ([2], T.UNDEFINED, "main graph: input 'x': element type 0 (UNDEFINED)"),
    ],
)
def test_impossible_input_type_is_named(dims, elem_type, said):
    x = helper.make_tensor_value_info("x", elem_type, dims)
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(InputError) as caught:
        graphkit.load(proto.SerializeToString())
    assert said in str(caught.value)


def test_mapped_initializer_with_negative_dims_is_named(tmp_path):
    # 4 KiB and over is read in place from the file; -32 x -32 x 4 bytes "fits" 4096 bytes.
    path = tmp_path / "m.onnx"
    onnx.save(_with_initializer(_tensor("w", [-32, -32], b"\0" * 4096)), path)
    with pytest.raises(InputError, match=r"initializer 'w': negative dims \[-32, -32\]"):
        graphkit.load(path)


def test_fitting_tensors_of_every_storage_still_load_and_run():
    """The checks count entries the way ONNX stores each type (complex: two, int4: packed)."""
    tensors = [
        helper.make_tensor("w", T.FLOAT, [2], [1.5, -2.0]),
        helper.make_tensor("h", T.FLOAT16, [3], np.array([1, 2, 3], np.float16)),
        helper.make_tensor("c", T.COMPLEX64, [2], [1 + 2j, 3 - 1j]),
        helper.make_tensor("i4", T.INT4, [3], [1, -2, 3]),
        helper.make_tensor("s", T.STRING, [2], [b"a", b"b"]),
        helper.make_tensor("e", T.FLOAT, [0, 5], []),
    ]
    proto = _with_initializer(tensors[0])
    proto.graph.initializer.extend(tensors[1:])
    model = graphkit.load(proto.SerializeToString())
    assert model.graph.initializers["i4"].const_value.numpy().tolist() == [1, -2, 3]
    (y,) = run_ort(model, {"x": np.array([1.0], np.float32)})
    np.testing.assert_array_equal(y, [2.5, -1.0])


@pytest.mark.parametrize(
    ("case", "said"),
    [("2GB-claim", "holds 4 bytes of raw data"), ("negative-dims", "negative dims [-4]")],
)
@pytest.mark.parametrize("command", ["diagnose", "fix"])
def test_cli_refuses_before_allocating_and_writes_nothing(tmp_path, case, said, command):
    onnx.save(_with_constant(BAD_TENSORS[case][0]), tmp_path / "m.onnx")
    extra = ["-o", "out.onnx"] if command == "fix" else []
    done = run_graphkit(command, "m.onnx", "-t", "ort", *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "node 'const' (Constant) attribute 'value'" in line and said in line
    assert not (tmp_path / "out.onnx").exists()


RECURSIVE = {
    "direct": ("f (a) => (b) { b = local.f(a) }", "'local.f' -> 'local.f'"),
    "mutual": (
        "f (a) => (b) { h = Relu(a)\n b = local.g(h) }\n"
        '<domain: "local", opset_import: ["" : 17, "local" : 1]>\n'
        "g (a) => (b) { b = local.f(a) }",
        "'local.f' -> 'local.g' -> 'local.f'",
    ),
    "in-a-branch": (
        "f (a) => (b) { c = ReduceSum(a)\n t = Greater(c, c)\n"
        " b = If(t) <then_branch = g1 () => (float[2] o) { o = local.f(a) },"
        " else_branch = g2 () => (float[2] o) { o = Relu(a) }> }",
        "'local.f' -> 'local.f'",
    ),
}


@pytest.mark.parametrize("command", ["inspect", "diagnose", "fix"])
@pytest.mark.parametrize("case", sorted(RECURSIVE))
def test_recursive_functions_are_refused_at_load(tmp_path, case, command):
    body, cycle = RECURSIVE[case]
    proto = onnx.parser.parse_model(
        '<ir_version: 10, opset_import: ["" : 17, "local" : 1]>\n'
        "g (float[2] x) => (float[2] y) { y = local.f(x) }\n"
        '<domain: "local", opset_import: ["" : 17, "local" : 1]>\n' + body
    )
    onnx.save(proto, tmp_path / "m.onnx")
    extra = {"inspect": [], "diagnose": ["-t", "ort"]}.get(command, ["-t", "ort", "-o", "o.onnx"])
    done = run_graphkit(command, "m.onnx", *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert f"m.onnx: function 'local.f' calls itself ({cycle})" in line


def test_functions_that_share_a_callee_are_not_recursion():
    proto = onnx.parser.parse_model(
        '<ir_version: 10, opset_import: ["" : 17, "local" : 1]>\n'
        "g (float[2] x) => (float[2] y) { h = local.f(x)\n y = local.g(h) }\n"
        '<domain: "local", opset_import: ["" : 17, "local" : 1]>\n'
        "f (a) => (b) { b = local.leaf(a) }\n"
        '<domain: "local", opset_import: ["" : 17, "local" : 1]>\n'
        "g (a) => (b) { h = local.leaf(a)\n b = local.f(h) }\n"
        '<domain: "local", opset_import: ["" : 17, "local" : 1]>\n'
        "leaf (a) => (b) { b = Neg(a) }"
    )
    model = graphkit.load(proto.SerializeToString())
    x = np.array([1.0, -2.0], np.float32)
    # y = g(f(x)) = f(leaf(-x)) = -(-(-x)): three negations
    np.testing.assert_array_equal(run_ort(model, {"x": x})[0], -x)


@pytest.mark.parametrize(
    ("call", "said"),
    [
        ("y = local.f(x, x)", "calls function 'local.f' with 2 inputs; it declares 1"),
        ("y, z = local.f(x)", "calls function 'local.f' with 2 outputs; it declares 1"),
    ],
)
def test_call_with_more_arguments_than_the_function_declares(call, said):
    proto = onnx.parser.parse_model(
        '<ir_version: 10, opset_import: ["" : 17, "local" : 1]>\n'
        f"g (float[2] x) => (float[2] y) {{ {call} }}\n"
        '<domain: "local", opset_import: ["" : 17]>\n'
        "f (a) => (b) { b = Neg(a) }"
    )
    with pytest.raises(InputError) as caught:
        graphkit.load(proto.SerializeToString())
    assert said in str(caught.value)


def test_sparse_initializer_too_large_to_densify_is_refused_before_allocating():
    values = helper.make_tensor("w", T.FLOAT, [1], [1.0])
    indices = helper.make_tensor("w_indices", T.INT64, [1], [0])
    sparse = helper.make_sparse_tensor(values, indices, [10**10])  # 40 GB once dense
    y = helper.make_tensor_value_info("y", T.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [], [y],
                              sparse_initializer=[sparse])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(InputError, match="sparse initializer 'w': dims \\[10000000000\\] would"):
        graphkit.load(proto.SerializeToString())
