"""Every built-in pass, run twice: the first run changes the model, the second changes nothing.

`modified` is a fact the pass states: the second run must say False, list no change, leave
the serialized model byte for byte as the first run left it, and give the same outputs on
real inputs (the first run's own outputs match the original's within the pass's tolerance).
The models are the passes' own test fixtures where those exist, and new ones where a pass
had a way to differ on a second run that its fixture did not reach.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import model_from_text, run_ort
from detector_models import detector
from ir3_models import small_ir3_model
from test_adapt_input_dtypes import CNN
from test_convert_layout import cnn_text
from test_convert_opset import DOWN, _sorted
from test_decompose import CASES as DECOMPOSE_CASES
from test_decompose import parse as parse_decompose_case
from test_eliminate_common_subexpressions import TWICE
from test_float64_to_float32 import DOUBLE
from test_fold_constants import SHAPE_MATH
from test_fold_shapes import SHAPE_SUBGRAPH
from test_fuse import CASES as FUSE_CASES
from test_lift_constants import BEFORE as CONSTANTS
from test_outline_gelu import EXACT as GELU_EXACT
from test_outline_gelu import gelu_model
from test_pin_shapes import DYNAMIC
from test_remove_redundant_casts import ROUND_TRIP

from graphkit.passes import BUILTIN_PASSES, pass_registry
from graphkit.passes.adapt_input_dtypes import AdaptInputDtypes
from graphkit.passes.convert_layout import ConvertLayout
from graphkit.passes.convert_opset import ConvertOpset
from graphkit.passes.decompose import Decompose
from graphkit.passes.eliminate_common_subexpressions import EliminateCommonSubexpressions
from graphkit.passes.eliminate_identity import EliminateIdentity
from graphkit.passes.float16 import Float16
from graphkit.passes.float64_to_float32 import Float64ToFloat32
from graphkit.passes.fold_constants import FoldConstants
from graphkit.passes.fold_initializer_inputs import FoldInitializerInputs
from graphkit.passes.fold_shapes import FoldShapes
from graphkit.passes.fuse import Fuse
from graphkit.passes.int64_to_int32 import Int64ToInt32
from graphkit.passes.lift_constants import LiftConstants
from graphkit.passes.nms import Nms
from graphkit.passes.outline_gelu import OutlineGelu
from graphkit.passes.pin_shapes import PinShapes
from graphkit.passes.remove_dead_nodes import RemoveDeadNodes
from graphkit.passes.remove_redundant_casts import RemoveRedundantCasts
from graphkit.passmanager import Pass, PassContext
from graphkit.proof import run_chain

R = np.random.default_rng(11)


def floats(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (R.standard_normal(shape) * scale).astype(np.float32)


@dataclass
class Case:
    pass_: Pass
    model: Callable[[], ir.Model]
    feeds: dict[str, np.ndarray]  # in the original's dtypes; cast to what the inputs become
    tolerance: tuple[float, float] = (1e-5, 1e-6)  # (rtol, atol) of run 1 vs the original
    applies: bool = True  # whether the first run changes the model
    runs: bool = True  # whether ORT runs the rewritten model here (a TensorRT plugin does not)
    outputs_replaced: bool = False  # the pass replaces the outputs by design (nms native)
    label: str = ""


def text(source: str) -> Callable[[], ir.Model]:
    return lambda: model_from_text(source)


def feeds_for(source: str) -> dict[str, np.ndarray]:
    """Normal floats for every input of a model whose inputs are all static float tensors."""
    return {v.name: floats(*v.shape) for v in model_from_text(source).graph.inputs}


OPSET = '<ir_version: 10, opset_import: ["" : 17]>'

# Token ids index a 10-row table; ArgMax indices are < 8; Shape feeds a Reshape (int64 only);
# a Shape nobody reads and a product that may pass int32 stay as they are.
INDICES = OPSET + """
g (int64[2, 5] ids, float[2, 8] scores, int64[2] big) => (float[2, 5, 4] emb, int64[2] best,
                                                          float[2, 20] flat, int64[2] huge) {
    table = Constant <value = float[10, 4] {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,
                                             20,21,22,23,24,25,26,27,28,29,
                                             30,31,32,33,34,35,36,37,38,39}> ()
    emb = Gather <axis = 0> (table, ids)
    top = ArgMax <axis = 1, keepdims = 0> (scores)
    one = Constant <value = int64 {1}> ()
    best = Add(top, one)
    unused = Shape(emb)
    n = Constant <value = int64[1] {2}> ()
    k = Constant <value = int64[1] {20}> ()
    target = Concat <axis = 0> (n, k)
    flat = Reshape(emb, target)
    factor = Constant <value = int64[2] {3000000000, 1}> ()
    huge = Mul(big, factor)
}"""
INDICES_FEEDS = {"ids": R.integers(0, 10, (2, 5)).astype(np.int64), "scores": floats(2, 8),
                 "big": np.array([2, -3], np.int64)}

# float16's cases at once: ops that convert, a sensitive one kept float32 between them, a
# weight, an int-to-float Cast, and outputs computed in float16 and in float32.
HALF = OPSET + """
g (float[2, 8] x, int64[2, 4] n) => (float[2, 4] y, float[2, 4] p, float[2, 4] c) {
    w = Constant <value = float[8, 4] {1,-2,3,-4,5,-6,7,-8,1,2,3,4,5,6,7,8,
                                        -1,2,-3,4,-5,6,-7,8,0,1,0,1,0,1,0,1}> ()
    m = MatMul(x, w)
    r = Relu(m)
    p = Softmax(r)
    y = Add(p, r)
    f = Cast <to = 1> (n)
    c = Mul(f, y)
}"""
HALF_FEEDS = {"x": floats(2, 8, scale=0.3), "n": R.integers(0, 5, (2, 4)).astype(np.int64)}

IDENTITIES = OPSET + """
g (float[2, 3] x) => (float[2, 3] y, float[2, 3] z) {
    a = Identity(x)
    b = Relu(a)
    c = Identity(b)
    y = Identity(c)
    z = Sigmoid(c)
}"""

DEAD = OPSET + """
g (float[2, 3] x) => (float[2, 3] y) <float[1] unused_scale = {3.0}> {
    y = Relu(x)
    a = Mul(x, unused_scale)
    b = Sigmoid(a)
    c = Neg(b)
}"""

# An LSTM whose sequence and last hidden state nobody reads (the state Y_c is read, so the
# unread outputs before it stay, unnamed), with omitted trailing inputs.
LSTM = (OPSET + """
g (float[3, 1, 2] x) => (float[1, 1, 4] c) {
    w = Constant <value = float[1, 16, 2] {W}> ()
    r = Constant <value = float[1, 16, 4] {R}> ()
    y, h, c = LSTM <hidden_size = 4> (x, w, r, , )
}""").replace("{W}", "{" + ", ".join(f"{v:.3f}" for v in floats(32, scale=0.5)) + "}").replace(
    "{R}", "{" + ", ".join(f"{v:.3f}" for v in floats(64, scale=0.5)) + "}")

# Ops the default decompose rewrites, one feeding the next.
ACTIVATIONS = """<ir_version: 10, opset_import: ["" : 20]>
g (float[3, 4] a, float[4, 5] b) => (float[3, 5] y) {
    m = Einsum <equation = "ij,jk->ik"> (a, b)
    g = Gelu(m)
    h = HardSwish(g)
    y = Mish(h)
}"""


def conv_bn() -> ir.Model:
    """Conv followed by an inference BatchNorm (the conv-bn fusion), exported from torch."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    buffer = io.BytesIO()
    torch.onnx.export(net, (torch.randn(1, 3, 6, 6),), buffer, dynamo=False, opset_version=17,
                      do_constant_folding=False, input_names=["x"], output_names=["y"])
    return ir.from_proto(onnx.load_from_string(buffer.getvalue()))


# Whole numbers 0..255: what the float inputs adapt-input-dtypes turns uint8 will be fed.
IMAGE_FEEDS = {"image": R.integers(0, 256, (1, 3, 8, 8)).astype(np.float32),
               "extra": R.integers(0, 256, (1, 4)).astype(np.float32),
               "ids": np.array([7], np.int64)}
DOUBLE_FEEDS = {"x": R.standard_normal(3), "f": floats(3)}
ROUND_TRIP_FEEDS = {"x": floats(4, scale=1000), "i": np.array([1, -2, 3, 2**30], np.int32)}
DETECTOR_IMAGE = {"image": np.random.default_rng(3).standard_normal((1, 3, 32, 32))
                  .astype(np.float32)}
FUSE_TOLERANCE = (1e-4, 1e-5)
LAYER_NORM = next(source for source, rules, *_ in FUSE_CASES if rules == "layer-norm")


def _cases() -> list[Case]:
    cases = [
        Case(AdaptInputDtypes(inputs=("image",)), text(CNN), IMAGE_FEEDS),
        Case(AdaptInputDtypes(), text(CNN), IMAGE_FEEDS, label="every-float-input"),
        Case(ConvertLayout(), text(cnn_text()), {"x": floats(1, 3, 8, 8)}),
        Case(OutlineGelu(), lambda: gelu_model(GELU_EXACT), {"v": floats(2, 8), "w": floats(8, 8)}),
        Case(ConvertOpset(to=13), text(_sorted(DOWN)), {"x": floats(4, 6)},
             tolerance=(1e-5, 1e-5)),
        Case(ConvertOpset(to=21), text(_sorted(DOWN)), {"x": floats(4, 6)}, label="up"),
        Case(Decompose(), text(ACTIVATIONS), {"a": floats(3, 4), "b": floats(4, 5)},
             label="every-op"),
        Case(EliminateCommonSubexpressions(), text(TWICE), {"x": floats(2, 3)}),
        Case(EliminateIdentity(), text(IDENTITIES), {"x": floats(2, 3)}),
        Case(Float16(), text(HALF), HALF_FEEDS, tolerance=(1e-2, 1e-3)),
        Case(Float16(keep_io=False), text(HALF), HALF_FEEDS, tolerance=(1e-2, 1e-3),
             label="keep-io-false"),
        Case(Float64ToFloat32(), text(DOUBLE), DOUBLE_FEEDS, tolerance=(1e-6, 1e-6)),
        Case(Float64ToFloat32(keep_boundary=False), text(DOUBLE), DOUBLE_FEEDS,
             tolerance=(1e-6, 1e-6), label="no-boundary"),
        Case(FoldConstants(), text(SHAPE_MATH), {"x": floats(2, 6)}),
        Case(FoldInitializerInputs(), small_ir3_model, {"x": floats(1, 2, 5, 5)}),
        Case(FoldShapes(), text(SHAPE_SUBGRAPH), {"x": floats(3, 4, 6)}),
        Case(Fuse(rules=("conv-bn",)), conv_bn, {"x": floats(1, 3, 6, 6)},
             tolerance=FUSE_TOLERANCE),
        Case(Fuse(), text(LAYER_NORM), feeds_for(LAYER_NORM), tolerance=FUSE_TOLERANCE,
             label="every-rule"),
        Case(Int64ToInt32(), text(INDICES), INDICES_FEEDS),
        Case(Int64ToInt32(keep_boundary=False), text(INDICES), INDICES_FEEDS,
             label="no-boundary"),
        Case(LiftConstants(), text(CONSTANTS), {"x": floats(2, 3), "c": np.array(True)}),
        Case(PinShapes(pin=("x=2x5x8",)), text(DYNAMIC), {"x": floats(2, 5, 8)}),
        Case(PinShapes(pin=("batch=2", "seq=5")), text(DYNAMIC), {"x": floats(2, 5, 8)},
             label="by-dim"),
        Case(RemoveDeadNodes(), text(DEAD), {"x": floats(2, 3)}),
        Case(RemoveDeadNodes(), text(LSTM), {"x": floats(3, 1, 2)}, label="optional-outputs"),
        Case(RemoveRedundantCasts(), text(ROUND_TRIP), ROUND_TRIP_FEEDS),
        Case(Nms(mode="keep"), detector, DETECTOR_IMAGE, applies=False),
        Case(Nms(mode="cut"), detector, DETECTOR_IMAGE),
        Case(Nms(mode="native", max_detections=5), detector, DETECTOR_IMAGE,
             outputs_replaced=True),
        Case(Nms(mode="plugin", max_detections=20), detector, DETECTOR_IMAGE, runs=False),
    ]
    for index, (source, rules, *_) in enumerate(FUSE_CASES):
        cases.append(Case(Fuse(rules=tuple(rules.split("+"))), text(source), feeds_for(source),
                          tolerance=FUSE_TOLERANCE, label=f"{rules}-{index}"))
    for param in DECOMPOSE_CASES:
        source, feeds, op = param.values
        cases.append(Case(Decompose(ops=(op,)), lambda s=source: parse_decompose_case(s), feeds,
                          tolerance=(1e-5, 1e-5), label=param.id))
    return cases


CASES = _cases()


def _id(case: Case) -> str:
    options = case.label or ",".join(f"{k}={v}" for k, v in vars(case.pass_).items() if v)
    return f"{case.pass_.name}{{{options}}}" if options else case.pass_.name


def _serialized(model: ir.Model) -> bytes:
    return ir.to_proto(model).SerializeToString(deterministic=True)


def _outputs(model: ir.Model, post_models: list[ir.Model], feeds) -> dict[str, np.ndarray]:
    """The outputs by name, fed `feeds` in the dtypes the model's inputs now declare."""
    typed = {v.name: feeds[v.name].astype(v.dtype.numpy()) for v in model.graph.inputs
             if not v.is_initializer()}
    if post_models:
        return run_chain(model, post_models, typed)
    return dict(zip([v.name for v in model.graph.outputs], run_ort(model, typed)))


def test_every_builtin_pass_has_a_case():
    builtin = {cls.name for cls in BUILTIN_PASSES}
    assert {case.pass_.name for case in CASES} == builtin
    assert builtin <= set(pass_registry())


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_a_second_run_changes_nothing(case: Case):
    model = case.model()
    before = _serialized(model)
    original = _outputs(model, [], case.feeds) if case.runs else None
    first = case.pass_.run(model, PassContext())
    assert first.modified == case.applies, first.changes
    assert bool(first.changes) == first.modified  # the report says what the pass did
    after_first = _serialized(model)
    assert (after_first != before) == case.applies  # the comparison below sees a change
    if original is not None and not case.outputs_replaced:
        got = _outputs(model, first.post_models, case.feeds)
        for name, want in original.items():
            np.testing.assert_allclose(got[name].astype(want.dtype), want, rtol=case.tolerance[0],
                                       atol=case.tolerance[1], err_msg=name)
    outputs_first = _outputs(model, [], case.feeds) if case.runs else None

    second = case.pass_.run(model, PassContext())
    assert not second.modified and not second.changes, second.changes
    assert not second.post_models and not second.outputs_replaced
    assert _serialized(model) == after_first
    if outputs_first is not None:
        for name, got in _outputs(model, [], case.feeds).items():
            np.testing.assert_array_equal(got, outputs_first[name], err_msg=name)
