"""The fuzzer's mutants are a function of (seed, index): a failure found once is found again."""

from __future__ import annotations

import onnx
from _fuzz_mutate import make_mutant

CORPUS = [
    ("add", onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x, float[2, 3] y) => (float[2, 3] z) { z = Add(x, y) }""")),
    ("conv", onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 1, 4, 4] x) => (float[1, 1, 3, 3] y)
        <float[1, 1, 2, 2] w = {1.0, 2.0, 3.0, 4.0}> {
            y = Conv <kernel_shape = [2, 2]> (x, w)
        }""")),
]
SERIALIZED = [(name, model.SerializeToString()) for name, model in CORPUS]


def test_a_mutant_is_the_same_every_time():
    for index in range(50):
        first, again = make_mutant(SERIALIZED, 7, index), make_mutant(SERIALIZED, 7, index)
        assert first == again


def test_mutants_differ_from_their_base_and_across_seeds():
    bases = dict(SERIALIZED)
    mutants = [make_mutant(SERIALIZED, seed, index) for seed in (1, 2) for index in range(50)]
    assert all(m.data != bases[m.base] for m in mutants if m.mutations)
    assert all(m.mutations for m in mutants)
    by_seed = [[m.data for m in mutants[:50]], [m.data for m in mutants[50:]]]
    assert by_seed[0] != by_seed[1]
