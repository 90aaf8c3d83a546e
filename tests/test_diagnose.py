"""The diagnose driver: every node reached, findings labelled, partitions, several targets."""

from dataclasses import dataclass

import numpy as np
import onnx_ir as ir
import pytest
from conftest import model_from_text, require, run_ort

import graphkit
from graphkit.diagnose import diagnose_targets
from graphkit.errors import InputError
from graphkit.findings import Finding, Severity
from graphkit.partitions import partition
from graphkit.targets.base import NodeContext


@dataclass
class RefusesOp:
    """A stand-in target that cannot run one op type (and records what it was asked)."""

    op: str
    name: str = "no-op"
    description: str = "test target"

    def __post_init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def opset_range(self) -> tuple[int, int]:
        return (1, 30)

    def check_model(self, model: ir.Model) -> list[Finding]:
        return []

    def check_node(self, node: ir.Node, ctx: NodeContext) -> list[Finding]:
        self.seen.append((node.op_type, ctx.in_subgraph))
        if node.op_type != self.op:
            return []
        return [Finding("GK101", Severity.ERROR, f"no {self.op} here", node=node.name,
                        op=node.op_type, fix="decompose")]


CHAIN = """
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[4] x) => (float[4] y) {
        a = Relu(x)
        b = Sigmoid(a)
        c = Neg(b)
        y = Abs(c)
    }"""


def test_one_blocked_node_in_a_chain_splits_it_in_two_partitions():
    report = graphkit.diagnose(model_from_text(CHAIN), RefusesOp("Sigmoid"))
    assert not report.convertible
    (finding,) = report.findings
    assert (finding.node, finding.op, finding.fix, finding.target) == (
        "#1 Sigmoid", "Sigmoid", "decompose", "no-op")
    parts = report.partitions
    assert (parts.nodes, parts.supported, parts.count, parts.largest) == (4, 3, 2, 2)


def test_a_graph_with_nothing_blocked_is_one_partition_of_every_node():
    report = graphkit.diagnose(model_from_text(CHAIN), RefusesOp("Softmax"))
    assert report.convertible
    parts = report.partitions
    assert (parts.nodes, parts.supported, parts.count, parts.largest) == (4, 4, 1, 4)


def test_partitions_take_every_ready_supported_node_before_stepping_through_a_blocked_one():
    # 0 -> 1(blocked) -> 3 and 0 -> 2 -> 3: node 2 joins node 0's group, 3 starts another.
    edges = [(0, 1), (0, 2), (1, 3), (2, 3)]
    parts = partition([True, False, True, True], edges)
    assert (parts.supported, parts.count, parts.largest) == (3, 2, 2)
    assert partition([True] * 3, [(0, 1), (1, 2)]).count == 1
    assert partition([False, False], [(0, 1)]).count == 0


def test_nodes_inside_if_branches_are_checked_and_block_the_if():
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (bool c, float[2] x) => (float[2] y) {
            y = If (c) <
                then_branch = t () => (float[2] ty) { ty = Sigmoid(x) },
                else_branch = e () => (float[2] ey) { ey = Relu(x) }
            >
        }""")
    model.graph.node(0).name = "choose"
    target = RefusesOp("Sigmoid")
    report = graphkit.diagnose(model, target)
    assert ("Sigmoid", True) in target.seen and ("Relu", True) in target.seen
    (finding,) = report.findings
    assert finding.node == "choose/then_branch/#0 Sigmoid"
    assert report.partitions.supported == 0  # the If cannot run without its branch
    # The same model is fine for onnxruntime, which runs it.
    assert graphkit.diagnose(model, "ort").convertible
    (out,) = run_ort(model, {"c": np.array(True), "x": np.array([-1.0, 2.0], np.float32)})
    assert out.tolist() == pytest.approx([0.2689, 0.8808], abs=1e-4)


def test_local_function_bodies_are_checked_and_block_their_callers():
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17, "local" : 1]>
        g (float[2] x) => (float[2] y) { t = local.Squash(x) y = Relu(t) }
        <domain: "local", opset_import: ["" : 17]>
        Squash (a) => (b) { b = Sigmoid(a) }""")
    report = graphkit.diagnose(model, RefusesOp("Sigmoid"))
    (finding,) = report.findings
    assert finding.node == "local::Squash/#0 Sigmoid"
    assert (report.partitions.supported, report.partitions.count) == (1, 1)
    assert graphkit.diagnose(model, "ort").convertible
    (out,) = run_ort(model, {"x": np.zeros(2, np.float32)})
    assert out.tolist() == [0.5, 0.5]


def test_several_targets_share_one_pass_and_keep_their_own_verdicts():
    first, second = RefusesOp("Neg", name="no-neg"), RefusesOp("Tanh", name="no-tanh")
    result = diagnose_targets(model_from_text(CHAIN), [first, second, "ort"])
    assert list(result.reports) == ["no-neg", "no-tanh", "ort"]
    assert [r.convertible for r in result.reports.values()] == [False, True, True]
    assert not result.convertible
    data = result.to_json()
    assert data["nodes"] == 4 and "min_opset" in data
    finding = data["targets"]["no-neg"]["findings"][0]
    assert {k: finding[k] for k in ("code", "severity", "node", "op", "fix")} == {
        "code": "GK101", "severity": "error", "node": "#2 Neg", "op": "Neg", "fix": "decompose"}


def test_unknown_target_is_an_input_error_listing_the_known_ones():
    with pytest.raises(InputError, match="unknown target 'tpu'; known targets: .*ort"):
        graphkit.diagnose(model_from_text(CHAIN), "tpu")


def test_diagnose_takes_a_list_of_targets_like_the_cli():
    model = model_from_text(CHAIN)
    result = graphkit.diagnose(model, ["ort", RefusesOp("Neg", name="no-neg")])
    assert list(result.reports) == ["ort", "no-neg"] and not result.convertible
    assert result.reports["ort"].findings == graphkit.diagnose(model, "ort").findings
    assert [f.node for f in result.reports["no-neg"].blockers] == ["#2 Neg"]
    assert list(graphkit.diagnose(model, ("ort",)).reports) == ["ort"]


@pytest.mark.parametrize("target", [5, {"ort"}, None])
def test_a_target_that_is_neither_a_name_nor_a_target_is_a_type_error(target):
    with pytest.raises(TypeError, match="a target is a name like 'ort' or a Target"):
        graphkit.diagnose(model_from_text(CHAIN), target)


def test_diagnose_does_not_change_the_model():
    model = model_from_text(CHAIN)
    before = ir.to_proto(model).SerializeToString()
    graphkit.diagnose(model, "ort")
    assert ir.to_proto(model).SerializeToString() == before


def test_torch_exported_model_is_clean_for_ort_and_runs():
    torch = require("torch", "torch")
    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2)
    ).eval()
    example = torch.randn(1, 3, 8, 8)
    report = graphkit.diagnose(graphkit.load(module, example_inputs=(example,)), "ort")
    assert report.convertible, [f.message for f in report.findings]
    assert report.partitions.count == 1
    assert report.partitions.supported == report.partitions.nodes >= 4


def test_torch_model_in_float64_is_blocked_where_ort_has_no_double_kernel():
    torch = require("torch", "torch")

    class Gelu(torch.nn.Module):
        def forward(self, x):
            return torch.erf(x) * x

    example = torch.randn(2, 3, dtype=torch.float64)
    model = graphkit.load(Gelu(), example_inputs=(example,))
    report = graphkit.diagnose(model, "ort")
    codes = {(f.code, f.op, f.fix) for f in report.blockers}
    assert codes == {("GK202", "Erf", "float64-to-float32")}
    name = model.graph.inputs[0].name
    with pytest.raises(Exception, match="(?i)erf"):
        run_ort(model, {name: example.numpy()})


def test_min_opset_sees_the_dtypes_shape_inference_found():
    # 'a' and 'b' carry no declared type: only inference knows the Relu works on int32,
    # which Relu supports from opset 14 (before, it took floats only).
    text = """
        <ir_version: 8, opset_import: ["" : 17]>
        g (int32[3] x) => (int32[3] y) { a = Neg(x)
          b = Relu(a)
          y = Neg(b) }"""
    from graphkit.min_opset import model_min_opset

    assert model_min_opset(model_from_text(text))["as_written"] == 6  # blind to 'a' and 'b'
    found = diagnose_targets(model_from_text(text), ["ort"]).min_opset
    assert isinstance(found, dict)
    assert (found["declared"], found["as_written"]) == (17, 14)
    assert diagnose_targets(model_from_text(text), ["ort"], min_opset=False).min_opset is None
