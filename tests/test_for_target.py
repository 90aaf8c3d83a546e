"""Passes configure themselves for a target (Pass.for_target) and say whether they replace
the outputs (Pass.replaces_outputs): fix builds them without knowing any pass by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import model_from_text

from graphkit._fix_passes import build_pass
from graphkit.backends import get_target
from graphkit.fixing import FixOptions
from graphkit.passes import pass_registry
from graphkit.passes.convert_opset import ConvertOpset
from graphkit.passes.fold_constants import FoldConstants
from graphkit.passes.nms import Nms
from graphkit.passes.pin_shapes import PinShapes
from graphkit.passes.remove_dead_nodes import RemoveDeadNodes
from graphkit.passmanager import Request

OPSET_15 = """
<ir_version: 8, opset_import: ["" : 15]>
g (float[2] x) => (float[2] y) { y = Relu(x) }
"""


@dataclass
class Window:
    name: str = "window"
    low: int = 11
    high: int = 13

    def opset_range(self) -> tuple[int, int]:
        return (self.low, self.high)


@pytest.fixture
def model():
    return model_from_text(OPSET_15)


def test_by_default_a_pass_is_built_as_its_options_say(model):
    built = RemoveDeadNodes.for_target(Window(), model, {}, Request(pin=("batch=1",)))
    assert built == RemoveDeadNodes()


def test_pin_shapes_takes_the_users_pins_but_not_when_filling_in_static_dims(model):
    request = Request(pin=("batch=1", "seq=8"))
    assert PinShapes.for_target(Window(), model, {}, request).pin == ("batch=1", "seq=8")
    static = PinShapes.for_target(Window(), model, {"static": "true"}, request)
    assert static.static and static.pin == ()
    assert PinShapes.for_target(Window(), model, {}, Request()).pin == ()


def test_nms_takes_the_requested_form_unless_the_finding_names_one(model):
    assert Nms.for_target(Window(), model, {}, Request(nms="plugin")).mode == "plugin"
    assert Nms.for_target(Window(), model, {"mode": "cut"}, Request(nms="plugin")).mode == "cut"


@pytest.mark.parametrize(("mode", "replaces"),
                         [("keep", False), ("cut", False), ("native", True), ("plugin", True)])
def test_only_nms_native_and_plugin_replace_the_outputs(mode, replaces):
    assert Nms(mode=mode).replaces_outputs is replaces
    assert not FoldConstants().replaces_outputs


def test_fold_constants_asked_for_by_a_finding_has_no_size_limit_unless_given(model):
    assert FoldConstants.for_target(Window(), model, {}, Request()).max_bytes == 0
    given = FoldConstants.for_target(Window(), model, {"max-bytes": "64"}, Request())
    assert given.max_bytes == 64


@pytest.mark.parametrize(("window", "to"), [((11, 13), 13), ((16, 18), 16), ((11, 18), 15)])
def test_convert_opset_moves_the_model_into_the_targets_range(model, window, to):
    built = ConvertOpset.for_target(Window(low=window[0], high=window[1]), model, {}, Request())
    assert built.to == to
    assert ConvertOpset.for_target(Window(), model, {"to": "12"}, Request()).to == 12


def test_fix_builds_the_pass_a_finding_names_with_the_targets_nms_form(model):
    registry = pass_registry()
    tensorrt, ort = get_target("tensorrt"), get_target("ort")
    assert build_pass("nms", registry, tensorrt, model, FixOptions()).mode == "plugin"
    assert build_pass("nms", registry, ort, model, FixOptions()).mode == "keep"
    assert build_pass("nms", registry, tensorrt, model, FixOptions(nms="cut")).mode == "cut"
    pins = FixOptions(pin=("batch=1",))
    assert build_pass("pin-shapes", registry, ort, model, pins).pin == ("batch=1",)
