"""torchscript: the target repeats the emitter's own verdict, node by node."""

from __future__ import annotations

from _helpers import check, codes, only
from conftest import model_from_text

from graphkit.backends.torchscript.target import TorchScriptTarget
from graphkit.diagnose import diagnose


def test_wraps_the_emitters_reason():
    seen = []

    def reason(node, opset):
        seen.append((node.op_type, opset))
        return "no lowering for this test" if node.op_type == "Gelu" else None

    text = """<ir_version: 9, opset_import: ["" : 20]>
    g (float[4] x) => (float[4] y) { r = Relu(x)  y = Gelu(r) }"""
    report = diagnose(model_from_text(text), TorchScriptTarget(reason))
    # A refusal of a node whose input has no declared shape is asked again with the
    # inferred one: the same question, so the order of distinct questions is what counts.
    assert list(dict.fromkeys(seen)) == [("Relu", 20), ("Gelu", 20)]
    finding = only(report.findings, "GK101")
    assert finding.op == "Gelu" and finding.message == "no lowering for this test"


def test_real_emitter_table():
    clean = "g (float[2,3] a, float[3,4] b) => (float[2,4] y) { y = MatMul(a, b) }"
    assert check(clean, "torchscript") == (True, [])
    strings = (
        'g (string[2] x) => (string[2] y) { y = StringNormalizer<case_change_action="LOWER">(x) }'
    )
    convertible, findings = check(strings, "torchscript")
    assert not convertible and codes(findings) == ["GK101"]
