"""TfIdfVectorizer lowered to comparisons and sums: each .tflite runs in LiteRT on random
tokens and matches ONNX Runtime and onnx's reference evaluator; diagnose agrees."""

from __future__ import annotations

import numpy as np
import pytest
from _tflite_checks import emitted_matches, reference, refused

# unigrams 2 3 5 4, bigrams (5,6) (7,8) (6,7), trigram (2,3,5): ngram_indexes give their columns
POOL = "pool_int64s = [2, 3, 5, 4, 5, 6, 7, 8, 6, 7, 2, 3, 5], ngram_counts = [0, 4, 10]"
TEXT = """<ir_version: 9, opset_import: ["" : 18]>
g ({dtype}{shape} x) => (float{out} y) {{
    y = TfIdfVectorizer <{attrs}> (x)
}}"""


def _text(dtype: str, shape: list[int], attrs: str) -> str:
    columns = "[8]" if len(shape) == 1 else f"[{shape[0]}, 8]"
    return TEXT.format(dtype=dtype, shape=str(shape), out=columns, attrs=attrs)


CASES = {
    # (min, max, skips, mode, weights)
    "uni-bi-tri-skip2-tf": "min_gram_length = 1, max_gram_length = 3, max_skip_count = 2, "
                           "mode = \"TF\"",
    "bigrams-skip0-idf": "min_gram_length = 2, max_gram_length = 2, max_skip_count = 0, "
                         "mode = \"IDF\", weights = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]",
    "unigrams-tfidf": "min_gram_length = 1, max_gram_length = 1, max_skip_count = 3, "
                      "mode = \"TFIDF\", weights = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]",
    "idf-no-weights": "min_gram_length = 1, max_gram_length = 2, max_skip_count = 1, "
                      "mode = \"IDF\"",
}
COLUMNS = "ngram_indexes = [0, 1, 2, 3, 4, 5, 6, 7]"


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("dtype", "shape"), [("int32", [3, 16]), ("int64", [20])])
def test_tfidf_counts_match_onnx_runtime(tmp_path, rng, case, dtype, shape):
    text = _text(dtype, shape, f"{CASES[case]}, {POOL}, {COLUMNS}")
    # tokens from the pool's own alphabet, so that its n-grams do occur
    x = rng.choice(np.array([2, 3, 5, 6, 7, 8], dtype), size=shape)
    x[..., 3:9] = [2, 3, 5, 6, 7, 8]  # and surely: 2 3 5, 5 6, 6 7, 7 8
    # onnx's reference fails on IDF without weights (len(None)): ORT alone there
    emitted_matches(tmp_path, text, {"x": x}, exact=True, evaluator="weights" in text, ort=True)
    (want,) = reference(text, {"x": x})
    assert np.count_nonzero(want) >= 3  # the n-grams were found, not an all-zero output


def test_string_pool_is_refused_by_both():
    text = """<ir_version: 9, opset_import: ["" : 18]>
    g (string[4] x) => (float[2] y) {
        y = TfIdfVectorizer <min_gram_length = 1, max_gram_length = 1, max_skip_count = 0,
            mode = "TF", pool_strings = ["a", "b"], ngram_counts = [0],
            ngram_indexes = [0, 1]> (x)
    }"""
    refused(text, "string")
