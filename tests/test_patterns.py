"""graphkit.patterns: what a pattern binds, when it declines and why, and const_array."""

from __future__ import annotations

import onnx_ir as ir
from conftest import model_from_text

from graphkit.ir._constants import const_array
from graphkit.patterns import Constraint, P, Var, match_pattern

HEADER = '<ir_version: 10, opset_import: ["" : 17]>'


def test_a_pattern_binds_its_variables_and_nodes_in_either_order_of_a_commutative_op():
    model = model_from_text(HEADER + """
g (float[4, 8] a, float[8, 3] b, float[3] c) => (float[4, 3] y) {
    m = MatMul(a, b)
    y = Add(c, m)
}""")
    x, w, bias = Var("x"), Var("w"), Var("bias")
    matmul = P.MatMul(x, w)
    match, declined = match_pattern(P.Add(matmul, bias), model.graph.node(1), 17)
    assert declined is None
    inputs = {value.name: value for value in model.graph.inputs}
    assert (match[x], match[w], match[bias]) == (inputs["a"], inputs["b"], inputs["c"])
    assert match.node(matmul) is model.graph.node(0)
    assert [node.op_type for node in match.nodes] == ["Add", "MatMul"]


def test_a_variable_used_twice_must_be_the_same_value():
    model = model_from_text(HEADER + """
g (float[3] u, float[3] v) => (float[3] same, float[3] other) {
    same = Mul(u, u)
    other = Mul(u, v)
}""")
    x = Var("x")
    square = P.Mul(x, x)
    assert match_pattern(square, model.graph.node(0), 17)[0] is not None
    assert match_pattern(square, model.graph.node(1), 17) == (None, None)


def test_an_inner_result_used_outside_declines_with_why():
    model = model_from_text(HEADER + """
g (float[3] x) => (float[3] y, float[3] e) {
    e = Exp(x)
    y = Neg(e)
}""")
    match, declined = match_pattern(P.Neg(P.Exp(Var("x"))), model.graph.node(1), 17)
    assert match is None
    assert declined == "an intermediate result is used outside the pattern"


def test_a_failing_constraint_gives_its_message_and_scalars_read_constant_node_forms():
    model = model_from_text(HEADER + """
g (float[3] x) => (float[3] y) {
    half = Constant <value_float = 0.5> ()
    y = Mul(x, half)
}""")
    x = Var("x")
    root = model.graph.node(1)
    assert match_pattern(P.Mul(x, 0.5), root, 17)[0] is not None
    assert match_pattern(P.Mul(x, 2.0), root, 17) == (None, None)
    never = Constraint("x must be a constant", lambda match: match.const(x) is not None)
    assert match_pattern(P.Mul(x, 0.5), root, 17, (never,)) == (None, "x must be a constant")


def test_const_array_reads_every_constant_form_and_nothing_a_caller_can_override():
    model = model_from_text("""<ir_version: 3, opset_import: ["" : 17]>
g (float[2] w, float[2] x) => (float[2] y) <float[2] w = {1, 2}> {
    k = Constant <value_ints = [3, 4]> ()
    kf = Cast <to = 1> (k)
    s = Add(x, w)
    y = Add(s, kf)
}""")
    weight, x = model.graph.inputs
    assert const_array(weight) is None  # an initializer that is also an input: overridable
    assert const_array(x) is None
    assert const_array(model.graph.node(0).outputs[0]).tolist() == [3, 4]
    assert const_array(model.graph.node(2).outputs[0]) is None  # computed at run time
    broken = ir.node("Constant", [], {"value_int": 1, "value_float": 2.0})
    assert const_array(broken.outputs[0]) is None  # two attributes: not a Constant the spec allows
