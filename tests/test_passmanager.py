"""The pass manager proves rewrites: a wrong pass is rolled back and reported."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from conftest import model_from_text, ops, run_ort

from graphkit.passes import build_pipeline
from graphkit.passmanager import (
    Pass,
    PassContext,
    PassManager,
    PassResult,
    Validation,
    parse_pipeline,
)

ADD_RELU = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[N, 4] x) => (float[N, 4] y) {
    one = Constant <value = float[1] {1.0}> ()
    s = Add(x, one)
    y = Relu(s)
}
"""


@dataclass(frozen=True)
class ReluToSigmoid(Pass):
    """Relu(x) -> Sigmoid(x): deliberately wrong, to prove the rollback."""

    name = "relu-to-sigmoid"
    kind = "rewrite"
    # Whether it says what it did: the manager proves what a pass says it modified.
    lines: bool = True
    honest: bool = True

    def run(self, model, ctx: PassContext) -> PassResult:
        result = PassResult()
        for node in model.graph:
            if node.op_type == "Relu":
                node.op_type = "Sigmoid"
                result.modified = self.honest
                if self.lines:
                    result.changes.append(f"turned Relu '{node.name}' into Sigmoid")
        return result


def test_wrong_rewrite_is_rolled_back_and_names_the_output():
    model = model_from_text(ADD_RELU)
    fixed, report = PassManager([ReluToSigmoid()]).run(model)
    assert ops(fixed) == ["Constant", "Add", "Relu"]
    [finding] = [f for f in report.findings if f.code == "GK501"]
    assert "relu-to-sigmoid" in finding.message and "'y'" in finding.message
    assert report.passes[0].rolled_back
    assert report.validated  # the kept model still matches the original


def test_modified_is_what_the_manager_proves_not_the_change_lines():
    # The optimistic proof fails either way; going pass by pass, the manager proves the pass
    # because it says it modified the model, though it lists no change.
    fixed, report = PassManager([ReluToSigmoid(lines=False)]).run(model_from_text(ADD_RELU))
    assert ops(fixed) == ["Constant", "Add", "Relu"]
    assert report.passes[0].modified and report.passes[0].rolled_back
    assert report.passes[0].to_json()["modified"] is True
    assert any(f.code == "GK501" and "'y'" in f.message for f in report.findings)


def test_change_lines_from_a_pass_that_says_it_modified_nothing_are_a_pass_bug():
    fixed, report = PassManager([ReluToSigmoid(honest=False)]).run(model_from_text(ADD_RELU))
    assert ops(fixed) == ["Constant", "Add", "Relu"]  # undone, like any pass that fails
    [finding] = [f for f in report.findings if f.code == "GK501"]
    assert "PassContractError" in finding.message and "modified nothing" in finding.message


def test_without_validation_the_wrong_rewrite_is_kept():
    model = model_from_text(ADD_RELU)
    fixed, report = PassManager([ReluToSigmoid()], validation=Validation(enabled=False)).run(model)
    assert "Sigmoid" in ops(fixed)
    assert not report.passes[0].rolled_back


def test_cleanup_pipeline_keeps_outputs(rng):
    model = model_from_text(ADD_RELU)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    fixed, report = PassManager(
        build_pipeline("eliminate-identity,fold-constants,remove-dead-nodes")
    ).run(model)
    [after] = run_ort(fixed, {"x": x})
    np.testing.assert_array_equal(before, after)
    assert [p.name for p in report.passes] == ["eliminate-identity", "fold-constants",
                                               "remove-dead-nodes"]
    assert report.validated


def test_pipeline_string_parses_options():
    specs = parse_pipeline("fold-constants{max-bytes=64},remove-dead-nodes")
    assert [s.name for s in specs] == ["fold-constants", "remove-dead-nodes"]
    assert specs[0].options == {"max-bytes": "64"}
    [fold, _] = build_pipeline("fold-constants{max-bytes=64},remove-dead-nodes")
    assert fold.max_bytes == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no-such-pass", "unknown pass 'no-such-pass'"),
        ("fold-constants{size=1}", "has no option 'size'"),
        ("fold-constants{max-bytes=big}", "expects int"),
        ("fold-constants{max-bytes=1", "must end with '}'"),
    ],
)
def test_bad_pipelines_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        build_pipeline(text)


@dataclass(frozen=True)
class Crashes(Pass):
    name = "crashes"
    kind = "rewrite"

    def run(self, model, ctx: PassContext) -> PassResult:
        model.graph.remove(next(iter(model.graph)), safe=False)  # half-done work...
        raise RuntimeError("bug in a pass")


def test_a_wrong_pass_among_good_ones_is_the_only_one_undone(rng):
    model = model_from_text(ADD_RELU)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    passes = (build_pipeline("lift-constants") + [ReluToSigmoid()]
              + build_pipeline("remove-dead-nodes"))
    fixed, report = PassManager(passes).run(model)
    rolled = {p.name: p.rolled_back for p in report.passes}
    assert rolled == {"lift-constants": False, "relu-to-sigmoid": True, "remove-dead-nodes": False}
    assert "Constant" not in ops(fixed) and "Relu" in ops(fixed)
    np.testing.assert_array_equal(before, run_ort(fixed, {"x": x})[0])


def test_a_crashing_pass_is_rolled_back_and_reported():
    model = model_from_text(ADD_RELU)
    fixed, report = PassManager([Crashes()]).run(model)
    assert ops(fixed) == ["Constant", "Add", "Relu"]
    [finding] = [f for f in report.findings if f.code == "GK501"]
    assert "crashes" in finding.message and "bug in a pass" in finding.message
    assert report.validated


@dataclass(frozen=True)
class NudgeConstant(Pass):
    """Constant 1.0 -> 1.01: a rewrite that changes numerics a little, like float16 does."""

    name = "nudge-constant"
    kind = "rewrite"
    declares_tolerance: bool = True

    def run(self, model, ctx: PassContext) -> PassResult:
        import onnx_ir as ir

        node = next(n for n in model.graph if n.op_type == "Constant")
        node.attributes["value"] = ir.AttrTensor("value", ir.tensor(np.array([1.01], np.float32)))
        tolerance = (0.05, 0.05) if self.declares_tolerance else None
        return PassResult(modified=True, changes=["nudged the constant"], tolerance=tolerance)


@pytest.mark.parametrize("declares", [True, False])
def test_a_pass_may_declare_the_tolerance_it_is_proven_with(declares):
    model = model_from_text(ADD_RELU)
    _, report = PassManager([NudgeConstant(declares_tolerance=declares)]).run(model)
    assert report.passes[0].rolled_back is (not declares)
    assert report.validated


SHAPE_RESHAPE = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[N, 4, 6] x) => (float[N, 24] y) {
    s = Shape(x)
    zero = Constant <value = int64[1] {0}> ()
    n = Gather(s, zero)
    tail = Constant <value = int64[1] {24}> ()
    spec = Concat <axis = 0> (n, tail)
    y = Reshape(x, spec)
}
"""


@dataclass(frozen=True)
class ShapesProbe(Pass):
    """Records whether the manager told it the shapes were current."""

    name = "shapes-probe"
    kind = "analysis"
    seen: list

    def run(self, model, ctx: PassContext) -> PassResult:
        self.seen.append(ctx.shapes_current)
        return PassResult()


def test_shapes_stay_current_only_across_passes_that_preserve_them():
    # fold-shapes ends with an inference of the graph it leaves; dead-node removal keeps
    # that true; constant folding may give inference more to work with, so it ends it.
    seen: list[bool] = []
    probe = ShapesProbe(seen)
    passes = build_pipeline("fold-shapes,remove-dead-nodes") + [probe]
    passes += build_pipeline("fold-constants") + [probe]
    passes.insert(0, probe)
    fixed, report = PassManager(passes).run(model_from_text(SHAPE_RESHAPE))
    assert "Shape" not in ops(fixed) and report.validated
    assert seen == [False, True, False]


def test_the_careful_path_infers_afresh():
    seen: list[bool] = []
    passes = build_pipeline("fold-shapes") + [ShapesProbe(seen), ReluToSigmoid()]
    model = model_from_text(SHAPE_RESHAPE.replace("y = Reshape(x, spec)",
                                                  "r = Reshape(x, spec)\n    y = Relu(r)"))
    fixed, report = PassManager(passes).run(model)
    assert report.passes[-1].rolled_back  # the optimistic proof failed: pass by pass
    assert seen == [True, False]  # optimistic run, then the careful one
