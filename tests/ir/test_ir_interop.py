"""onnx-graphsurgeon scripts as graphkit passes, and the networkx view of a model."""

from __future__ import annotations

import sys

import networkx as nx
import numpy as np
import onnx_graphsurgeon as gs
import pytest
from conftest import model_from_text, run_ort

from graphkit.errors import MissingDependencyError
from graphkit.ir import (
    from_graphsurgeon,
    load_onnx,
    save_onnx,
    to_graphsurgeon,
    to_networkx,
)
from graphkit.pass_adapters import GraphSurgeonPass
from graphkit.passmanager import PassManager, Validation

DOUBLE_RELU = """
<ir_version: 10, opset_import: ["" : 17], producer_name: "test", metadata_props: ["k" : "v"]>
g (float[2, 4] x) => (float[2, 4] y) <float[4] b = {0.5, -1.0, 2.0, -3.0}> {
    a = Add(x, b)
    r1 = Relu(a)
    r2 = Relu(r1)
    y = Mul(r2, r1)
}
"""


def _x() -> np.ndarray:
    return np.linspace(-3, 3, 8, dtype=np.float32).reshape(2, 4)


def drop_repeated_relu(graph: gs.Graph) -> None:
    """Relu(Relu(t)) -> Relu(t): a typical user graphsurgeon edit."""
    for node in graph.nodes:
        if node.op != "Relu" or not node.inputs[0].inputs or node.inputs[0].inputs[0].op != "Relu":
            continue
        inner_output = node.inputs[0]
        for consumer in list(node.outputs[0].outputs):
            consumer.inputs = [inner_output if t is node.outputs[0] else t for t in consumer.inputs]
        node.outputs.clear()
    graph.cleanup().toposort()


def relu_becomes_neg(graph: gs.Graph) -> None:
    for node in graph.nodes:
        if node.op == "Relu":
            node.op = "Neg"


def test_graphsurgeon_round_trip_keeps_outputs():
    model = model_from_text(DOUBLE_RELU)
    back = from_graphsurgeon(to_graphsurgeon(model))
    np.testing.assert_array_equal(run_ort(back, {"x": _x()})[0], run_ort(model, {"x": _x()})[0])


def test_graphsurgeon_script_runs_as_a_proven_pass():
    model = model_from_text(DOUBLE_RELU)
    expected = run_ort(model, {"x": _x()})[0]
    result, report = PassManager([GraphSurgeonPass(drop_repeated_relu)]).run(model)
    assert [node.op_type for node in result.graph] == ["Add", "Relu", "Mul"]
    assert report.passes[0].changes == ["drop_repeated_relu: 4 -> 3 nodes"]
    assert not report.passes[0].rolled_back
    np.testing.assert_array_equal(run_ort(result, {"x": _x()})[0], expected)
    assert result.metadata_props == {"k": "v"} and result.producer_name == "test"


def test_graphsurgeon_script_that_changes_outputs_is_rolled_back():
    model = model_from_text(DOUBLE_RELU)
    validation = Validation(inputs={"x": _x()})
    result, report = PassManager([GraphSurgeonPass(relu_becomes_neg)], validation=validation).run(
        model
    )
    assert report.passes[0].rolled_back
    assert any(finding.code == "GK501" for finding in report.findings)
    assert [node.op_type for node in result.graph] == ["Add", "Relu", "Relu", "Mul"]


def test_graphsurgeon_script_that_changes_nothing_reports_nothing():
    model = model_from_text(DOUBLE_RELU)
    _, report = PassManager([GraphSurgeonPass(lambda graph: None)]).run(model)
    assert report.passes[0].changes == []


def test_graphsurgeon_sees_weights_kept_in_external_data(tmp_path):
    weights = np.arange(1024, dtype=np.float32)  # 4 KiB: goes to the data file
    values = ", ".join(str(int(v)) for v in weights)
    model = model_from_text(f"""<ir_version: 10, opset_import: ["" : 17]>
        g (float[1024] x) => (float[1024] y) <float[1024] w = {{{values}}}> {{ y = Add(x, w) }}""")
    save_onnx(model, tmp_path / "m.onnx", external_data=True)
    assert (tmp_path / "m.onnx.data").stat().st_size == weights.nbytes
    graph = to_graphsurgeon(load_onnx(tmp_path / "m.onnx"))
    np.testing.assert_array_equal(graph.tensors()["w"].values, weights)


def test_missing_graphsurgeon_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx_graphsurgeon", None)
    with pytest.raises(MissingDependencyError, match="onnx-graphsurgeon"):
        to_graphsurgeon(model_from_text(DOUBLE_RELU))


IF_MODEL = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[3] x, bool c) => (float[3] y) {
    h = Relu(x)
    n = Neg(x)
    y = If(c) <then_branch = t () => (float[3] o) { o = Add(h, n) },
               else_branch = e () => (float[3] o) { o = Identity(h) }>
}
"""


def test_networkx_view_is_a_dag_with_one_edge_per_use():
    model = model_from_text(IF_MODEL)
    graph = to_networkx(model)
    assert graph.number_of_nodes() == 3
    assert nx.is_directed_acyclic_graph(graph)
    ops = {index: data["op_type"] for index, data in graph.nodes(data=True)}
    edges = sorted((ops[a], ops[b], key) for a, b, key in graph.edges(keys=True))
    # the If reads h (in both branches) and n through its subgraphs: one edge per value read
    assert edges == [("Neg", "If", "n"), ("Relu", "If", "h")]
    order = [ops[index] for index in nx.topological_sort(graph)]
    assert order.index("If") == 2


def test_missing_networkx_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(MissingDependencyError, match="networkx"):
        to_networkx(model_from_text(IF_MODEL))
