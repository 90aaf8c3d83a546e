"""The TFLite lowering of the attention ops (Attention, FlexAttention, RotaryEmbedding,
LinearAttention): each emitted .tflite runs in LiteRT on random inputs and is compared with
onnx's reference evaluator (ONNX Runtime has no kernel for most of them), and diagnose
--target tflite says the same as the emitter."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from _tflite_checks import emitted_matches, normal, refused

# Every case is compared with onnx's reference evaluator (ONNX Runtime has no kernel for
# most of them), float16 values as float32.
_matches = partial(emitted_matches, evaluator=True, compare_as=np.float32)

# FlexAttention (ai.onnx.preview): lowered as onnx's function body, its score_mod and
# prob_mod graphs inlined there ---------------------------------------------------------

FLEX = """<ir_version: 10, opset_import: ["" : 26, "ai.onnx.preview" : 1]>
g ({t}[2,{hq},5,8] Q, {t}[2,{hkv},6,8] K, {t}[2,{hkv},6,4] V) => ({t}[2,{hq},5,4] Y) {{
    Y = ai.onnx.preview.FlexAttention{attrs}(Q, K, V)
}}"""


@pytest.mark.parametrize(("hq", "hkv", "attrs"), [
    (4, 4, ""), (4, 2, ""), (4, 1, "<scale: float = 0.3>")])
def test_flex_attention(tmp_path, rng, hq, hkv, attrs):
    text = FLEX.format(t="float", hq=hq, hkv=hkv, attrs=attrs)
    feeds = {"Q": normal(rng, 2, hq, 5, 8), "K": normal(rng, 2, hkv, 6, 8),
             "V": normal(rng, 2, hkv, 6, 4)}
    _matches(tmp_path, text, feeds)


def test_flex_attention_float16(tmp_path, rng):
    """Q @ K^T in float16 as onnx's body writes it (each node widened to float32 and its
    result rounded back), the softmax in float32."""
    text = FLEX.format(t="float16", hq=2, hkv=2, attrs="")
    feeds = {"Q": normal(rng, 2, 2, 5, 8, dtype=np.float16),
             "K": normal(rng, 2, 2, 6, 8, dtype=np.float16),
             "V": normal(rng, 2, 2, 6, 4, dtype=np.float16)}
    _matches(tmp_path, text, feeds, rtol=1e-3, atol=1e-3)


def test_flex_attention_score_and_prob_mod(tmp_path, rng):
    mods = """<score_mod: graph = s (float[B,H,L,S] x) => (float[B,H,L,S] y) {
        y = Add(x, x)
    }, prob_mod: graph = p (float[B,H,L,S] x) => (float[B,H,L,S] y) {
        y = Mul(x, x)
    }>"""
    text = FLEX.format(t="float", hq=2, hkv=2, attrs=mods)
    feeds = {"Q": normal(rng, 2, 2, 5, 8), "K": normal(rng, 2, 2, 6, 8),
             "V": normal(rng, 2, 2, 6, 4)}
    _matches(tmp_path, text, feeds)


def test_flex_attention_causal_score_mod_from_shapes(tmp_path, rng):
    """A score_mod that builds its mask from the scores' shape (Shape, Range): its nodes
    are lowered inside the body, where the shapes are known, not on their own."""
    mods = """<score_mod: graph = s (float[B,H,L,S] x) => (float[B,H,L,S] y) {
        shape = Shape(x)
        two = Constant<value: tensor = int64 {2}>()
        three = Constant<value: tensor = int64 {3}>()
        zero = Constant<value: tensor = int64 {0}>()
        one = Constant<value: tensor = int64 {1}>()
        rows = Gather<axis: int = 0>(shape, two)
        cols = Gather<axis: int = 0>(shape, three)
        q = Range(zero, rows, one)
        k = Range(zero, cols, one)
        column = Constant<value: tensor = int64[2] {-1, 1}>()
        qc = Reshape(q, column)
        keep = GreaterOrEqual(qc, k)
        low = Constant<value: tensor = float {-1e9}>()
        y = Where(keep, x, low)
    }>"""
    text = FLEX.format(t="float", hq=2, hkv=1, attrs=mods)
    feeds = {"Q": normal(rng, 2, 2, 5, 8), "K": normal(rng, 2, 1, 6, 8),
             "V": normal(rng, 2, 1, 6, 4)}
    _matches(tmp_path, text, feeds)


def test_flex_attention_double_refused():
    """No builtin computes float64: refused (its body does not lower), not narrowed to
    float32."""
    refused(FLEX.format(t="double", hq=2, hkv=2, attrs=""), "FlexAttention.*ai.onnx.preview")


# Attention in float16: onnx's body, whose Expand to a shape known at run time is widened

ATTENTION_FP16 = """<ir_version: 10, opset_import: ["" : 23]>
g (float16[2,4,3,8] Q, float16[2,2,5,8] K, float16[2,2,5,8] V)
  => (float16[2,4,3,8] Y) {
    Y = Attention<is_causal: int = 1>(Q, K, V)
}"""


def test_attention_float16_gqa_causal(tmp_path, rng):
    feeds = {"Q": normal(rng, 2, 4, 3, 8, dtype=np.float16),
             "K": normal(rng, 2, 2, 5, 8, dtype=np.float16),
             "V": normal(rng, 2, 2, 5, 8, dtype=np.float16)}
    _matches(tmp_path, ATTENTION_FP16, feeds, rtol=1e-3, atol=1e-3)


# RotaryEmbedding (lowering/_attention.py) ----------------------------------------------

ROTARY_4D = """<ir_version: 10, opset_import: ["" : 23]>
g (float[2,3,4,8] x, float[10,{half}] cos, float[10,{half}] sin, int64[2,4] pos)
  => (float[2,3,4,8] y) {{
    y = RotaryEmbedding<interleaved: int = {inter}, rotary_embedding_dim: int = {dim}>(
        x, cos, sin, pos)
}}"""


@pytest.mark.parametrize(("inter", "dim"), [(0, 0), (1, 0), (1, 4), (0, 6)])
def test_rotary_embedding_with_positions(tmp_path, rng, inter, dim):
    half = (dim or 8) // 2
    angles = rng.uniform(0, 6, (10, half))
    feeds = {"x": normal(rng, 2, 3, 4, 8), "cos": np.cos(angles).astype(np.float32),
             "sin": np.sin(angles).astype(np.float32),
             "pos": rng.integers(0, 10, (2, 4)).astype(np.int64)}
    _matches(tmp_path, ROTARY_4D.format(half=half, inter=inter, dim=dim), feeds)


ROTARY_3D = """<ir_version: 10, opset_import: ["" : 23]>
g (float[2,4,12] x, float[2,4,2] cos, float[2,4,2] sin) => (float[2,4,12] y) {
    y = RotaryEmbedding<num_heads: int = 2, rotary_embedding_dim: int = 4,
                        interleaved: int = 1>(x, cos, sin)
}"""


def test_rotary_embedding_3d_without_positions(tmp_path, rng):
    angles = rng.uniform(0, 6, (2, 4, 2))
    feeds = {"x": normal(rng, 2, 4, 12), "cos": np.cos(angles).astype(np.float32),
             "sin": np.sin(angles).astype(np.float32)}
    _matches(tmp_path, ROTARY_3D, feeds)


# LinearAttention (lowering/_attention.py): the recurrence unrolled ---------------------

LINEAR = """<ir_version: 10, opset_import: ["" : 27]>
g (float[2,{t},{qw}] q, float[2,{t},{kw}] k, float[2,{t},{vw}] v{extra_in})
  => (float[2,{t},{ow}] out, float[2,{hkv},4,3] state) {{
    out, state = LinearAttention<q_num_heads: int = {hq}, kv_num_heads: int = {hkv},
                                 update_rule: string = "{rule}"{attrs}>({args})
}}"""


def _linear(rule: str, t: int, hq: int, hkv: int, past: bool, per_key: bool,
            attrs: str = "") -> tuple[str, dict]:
    dk, dv = 4, 3
    extra = {"past": f"float[2,{hkv},{dk},{dv}]"} if past else {}
    if rule in ("gated", "gated_delta"):
        extra["decay"] = f"float[2,{t},{hkv * dk if per_key else hkv}]"
    if rule in ("delta", "gated_delta"):
        extra["beta"] = f"float[2,{t},{hkv}]"
    args = ["q", "k", "v"] + [name if name in extra else ""
                              for name in ("past", "decay", "beta")]
    while args[-1] == "":
        args.pop()
    text = LINEAR.format(t=t, qw=hq * dk, kw=hkv * dk, vw=hkv * dv, ow=hq * dv, hq=hq,
                         hkv=hkv, rule=rule, attrs=attrs, args=", ".join(args),
                         extra_in="".join(f", {kind} {name}" for name, kind in extra.items()))
    return text, extra


@pytest.mark.parametrize(("rule", "t", "hq", "hkv", "past", "per_key"), [
    ("linear", 5, 2, 2, False, False),
    ("gated", 4, 2, 2, True, True),
    ("delta", 3, 4, 2, False, False),
    ("gated_delta", 4, 4, 1, True, False),
    ("gated_delta", 1, 2, 2, True, True),
])
def test_linear_attention(tmp_path, rng, rule, t, hq, hkv, past, per_key):
    text, extra = _linear(rule, t, hq, hkv, past, per_key, ", scale: float = 0.7")
    feeds = {"q": normal(rng, 2, t, hq * 4), "k": normal(rng, 2, t, hkv * 4) / 2,
             "v": normal(rng, 2, t, hkv * 3)}
    shapes = {"past": (2, hkv, 4, 3), "decay": (2, t, hkv * 4 if per_key else hkv),
              "beta": (2, t, hkv)}
    for name in extra:
        feeds[name] = normal(rng, *shapes[name])
    if "decay" in feeds:
        feeds["decay"] = -np.abs(feeds["decay"])  # log-space gates: exp() in (0, 1]
    if "beta" in feeds:
        feeds["beta"] = 1 / (1 + np.exp(-feeds["beta"]))
    _matches(tmp_path, text, feeds, rtol=1e-4, atol=1e-5)


def test_linear_attention_past_the_unroll_bound_refused():
    text, _ = _linear("linear", 1025, 2, 2, False, False)
    refused(text, "unrolls it over at most 1024")


def test_linear_attention_rule_without_its_decay_refused():
    text, _ = _linear("linear", 2, 2, 2, False, False)
    refused(text.replace('"linear"', '"gated"'), "does not fit the decay and beta")
