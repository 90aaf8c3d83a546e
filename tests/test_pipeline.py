"""Pipeline: the pass manager's list of passes as one pass, nested, repeated until stable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from conftest import model_from_text, ops, run_ort
from test_passmanager import ADD_RELU, SHAPE_RESHAPE, ReluToSigmoid

from graphkit.passes import build_pipeline
from graphkit.passmanager import (
    Pass,
    PassContext,
    PassContractError,
    PassManager,
    PassResult,
    Pipeline,
)

CHAIN = """
<ir_version: 10, opset_import: ["" : 17]>
g (float[2, 3] x) => (float[2, 3] y) {
    a = Identity(x)
    b = Identity(a)
    c = Identity(b)
    y = Relu(c)
}
"""


@dataclass(frozen=True)
class PeelOne(Pass):
    """Removes one Identity per run: a rewrite that needs repeating to finish."""

    name = "peel-one"
    kind = "rewrite"
    runs: list

    def run(self, model, ctx: PassContext) -> PassResult:
        self.runs.append(1)
        node = next((n for n in model.graph if n.op_type == "Identity"), None)
        if node is None:
            return PassResult()
        node.outputs[0].replace_all_uses_with(node.inputs[0])
        model.graph.remove(node, safe=True)
        return PassResult(modified=True, changes=[f"removed '{node.name}'"])


@pytest.mark.parametrize(("steps", "left", "runs"), [(1, 2, 1), (2, 1, 2), (10, 0, 4)])
def test_repeats_until_a_step_changes_nothing_or_the_limit(steps, left, runs):
    model, count = model_from_text(CHAIN), []
    result = Pipeline((PeelOne(count),), max_steps=steps).run(model, PassContext())
    assert ops(model).count("Identity") == left
    assert len(count) == runs  # with room to spare: the three peels, then one that finds none
    assert result.modified and len(result.changes) == 3 - left


def test_nested_in_the_manager_it_is_one_pass_proven_once(rng):
    model, count = model_from_text(CHAIN), []
    x = rng.standard_normal((2, 3)).astype(np.float32)
    inner = Pipeline((PeelOne(count), *build_pipeline("remove-dead-nodes")), max_steps=5)
    fixed, report = PassManager([Pipeline((inner,)), *build_pipeline("fold-constants")]).run(
        model)
    assert [p.name for p in report.passes] == ["pipeline", "fold-constants"]
    assert ops(fixed) == ["Relu"] and report.validated
    np.testing.assert_array_equal(run_ort(fixed, {"x": x})[0], np.maximum(x, 0))


def test_a_manager_nests_in_another_as_one_pass(rng):
    count: list = []
    inner = PassManager([PeelOne(count), *build_pipeline("remove-dead-nodes")])
    fixed, report = PassManager([inner.as_pass(max_steps=2)]).run(model_from_text(CHAIN))
    assert [p.name for p in report.passes] == ["pipeline"] and report.validated
    assert ops(fixed).count("Identity") == 1 and len(count) == 2  # the step limit held


def test_a_wrong_pass_inside_is_rolled_back_with_the_whole_pipeline():
    model = model_from_text(ADD_RELU)
    nested = Pipeline((*build_pipeline("lift-constants"), ReluToSigmoid()))
    fixed, report = PassManager([nested]).run(model)
    assert report.passes[0].rolled_back
    assert ops(fixed) == ["Constant", "Add", "Relu"]  # the lift went with it: one rewrite


def test_follow_up_stops_when_the_first_pass_finds_nothing():
    count: list = []
    model = model_from_text(ADD_RELU)  # no Identity: nothing for the first pass
    follow = build_pipeline("lift-constants")
    result = Pipeline((PeelOne(count), *follow), max_steps=3, follow_up=True).run(
        model, PassContext())
    assert not result.modified and "Constant" in ops(model) and len(count) == 1


def test_shapes_are_current_after_it_as_its_last_passes_say():
    model = model_from_text(SHAPE_RESHAPE)
    shaped = Pipeline(tuple(build_pipeline("fold-shapes,remove-dead-nodes"))).run(
        model, PassContext())
    assert shaped.modified and shaped.shapes_current  # dead-node removal keeps them current
    folded = Pipeline(tuple(build_pipeline("fold-shapes,fold-constants"))).run(
        model_from_text(SHAPE_RESHAPE), PassContext())
    assert not folded.shapes_current


@dataclass(frozen=True)
class Dishonest(Pass):
    name = "dishonest"
    kind = "rewrite"

    def run(self, model, ctx: PassContext) -> PassResult:
        return PassResult(modified=False, changes=["did something"])


def test_a_pass_inside_is_held_to_the_contract():
    with pytest.raises(PassContractError, match="dishonest"):
        Pipeline((Dishonest(),)).run(model_from_text(ADD_RELU), PassContext())


def test_it_declares_what_its_passes_declare():
    from graphkit.passes.adapt_input_dtypes import AdaptInputDtypes
    from graphkit.passes.nms import Nms

    assert Pipeline((Nms(mode="native"),)).replaces_outputs
    assert not Pipeline((Nms(mode="cut"),)).replaces_outputs
    image = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 3, 2, 2] image) => (float[1, 3, 2, 2] y) {
            scale = Constant <value = float {0.0039215686}> ()
            y = Mul(image, scale)
        }""")
    pipeline = Pipeline((*build_pipeline("remove-dead-nodes"), AdaptInputDtypes()))
    domains = pipeline.input_domains(image)
    assert domains == {"image": np.dtype(np.uint8)}
