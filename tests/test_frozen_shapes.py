"""GK303 from both ends: sizes a trace baked into Reshape/Expand/Tile, and outputs that
depend on no input, found by diagnose without running the model."""

from __future__ import annotations

import onnx
import pytest
from conftest import require

import graphkit
from graphkit._fix_passes import choose_passes
from graphkit.backends import get_target
from graphkit.fixing import FixOptions
from graphkit.runner import ModelRunner
from graphkit.validation import choose_input_shapes

torch = require("torch", "torch")


class TracedLength(torch.nn.Module):
    """Reads the sequence length into Python: the trace freezes it twice over."""

    def forward(self, x):
        n = int(x.shape[1])  # a Python int: the tracer records the example's 6
        return torch.relu(x.reshape(-1, n, 4)), torch.arange(n, dtype=torch.float32) * 2


class FollowsLength(torch.nn.Module):
    """The same computation with the sizes kept as tensors: nothing is frozen."""

    def forward(self, x):
        return torch.relu(x.reshape(x.shape[0], x.shape[1], 4)), x.sum(dim=2)


def _load(module):
    return graphkit.load(module, example_inputs=torch.randn(2, 6, 4),
                         dynamic_axes={"x": {0: "batch", 1: "seq"}})


def _gk303(model):
    return [f for f in graphkit.diagnose(model, "ort").findings if f.code == "GK303"]


def test_a_traced_length_is_found_at_the_reshape_and_at_the_constant_output():
    model = _load(TracedLength())
    baked, constant = _gk303(model)
    assert baked.op == "Reshape" and baked.fix == "pin-shapes"
    assert "holds 6" in baked.message and "'seq' (input 'x', axis 1)" in baked.message
    assert constant.fix == "" and "output 'output_1' depends on no input" in constant.message
    # running the model confirms the node end: it fails one size up, at that Reshape
    choice = choose_input_shapes(model, ModelRunner(model))
    assert any("'seq'" in f.message and "Reshape" in f.message for f in choice.findings)


def test_a_model_that_keeps_its_sizes_dynamic_has_no_gk303():
    assert _gk303(_load(FollowsLength())) == []


def test_without_recorded_example_shapes_no_size_is_guessed():
    model = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[batch,seq,4] x) => (float[batch,6,4] y) {
            shape = Constant <value = int64[3] {-1, 6, 4}> ()
            y = Reshape(x, shape)
        }""")
    assert _gk303(graphkit.load(model)) == []


def test_no_pass_is_chosen_for_a_constant_output():
    model = graphkit.load(onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2] x) => (float[2] y, float[2] c) {
            y = Relu(x)
            c = Constant <value = float[2] {1.0, 2.0}> ()
        }"""))
    [finding] = _gk303(model)
    assert "output 'c'" in finding.message
    target = get_target("ort")
    assert choose_passes([finding], target, model, FixOptions(), set()) == []


@pytest.mark.parametrize("op", ["Expand", "Tile"])
def test_expand_and_tile_targets_are_read_too(op):
    model = _load(TracedLength())
    node = next(n for n in model.graph if n.op_type == "Reshape")
    node.op_type = op  # the same baked constant as an Expand/Tile operand
    assert [f.op for f in _gk303(model)][0] == op
