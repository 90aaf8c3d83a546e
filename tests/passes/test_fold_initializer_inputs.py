import numpy as np
import onnx
import onnx_ir as ir
from conftest import model_from_text, run_ort
from ir3_models import small_ir3_model, small_ir3_proto

from graphkit.passes.fold_initializer_inputs import FoldInitializerInputs
from graphkit.passmanager import PassContext


def test_initializer_inputs_become_constants_and_ir_goes_to_4(rng):
    model = small_ir3_model()
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    [before] = run_ort(small_ir3_proto(), {"x": x})
    result = FoldInitializerInputs().run(model, PassContext())
    assert result.changes[0].startswith("3 initializer(s) that were also graph inputs are now "
                                        "constants")
    assert [value.name for value in model.graph.inputs] == ["x"]
    assert sorted(model.graph.initializers) == ["b", "w", "w2_shape"]
    assert model.ir_version == 4
    proto = ir.to_proto(model)
    onnx.checker.check_model(proto)  # IR 3 would reject initializers that are not inputs
    [after] = run_ort(proto, {"x": x})
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)  # ORT packs constant weights


def test_a_second_run_changes_nothing():
    model = small_ir3_model()
    FoldInitializerInputs().run(model, PassContext())
    assert not FoldInitializerInputs().run(model, PassContext()).modified


def test_a_later_ir_version_stays(rng):
    # IR 4+ allows initializers apart from the inputs; one listed as an input is still an
    # overridable default, and folding it leaves the version alone.
    model = model_from_text("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2] x, float[2] bias) => (float[2] y) <float[2] bias = {1.0, 2.0}> {
            y = Add(x, bias)
        }
    """)
    x = rng.standard_normal(2).astype(np.float32)
    [before] = run_ort(model, {"x": x})
    assert FoldInitializerInputs().run(model, PassContext()).changes == [
        "1 initializer(s) that were also graph inputs are now constants (their values were "
        "the inputs' defaults)"]
    assert model.ir_version == 8 and [v.name for v in model.graph.inputs] == ["x"]
    [after] = run_ort(model, {"x": x})
    np.testing.assert_array_equal(before, after)
