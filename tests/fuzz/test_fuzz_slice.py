"""CI's slice of the fuzzer: a fixed set of mutants, every one handled with exit 0, 1 or 2.

The seed is fixed, so the slice is the same mutants on every run; `tools/fuzz.py N --seed S`
runs any number. A failure names the class and the mutant ids; rerun one with
`python tools/fuzz.py 1 --seed 20261204 --only INDEX --save DIR` to get the model and the
traceback. The per-mutant limit is a hang guard, not a speed assertion.
"""

from __future__ import annotations

import pytest
from _fuzz_corpus import load_corpus
from _fuzz_harness import run_fuzz

SLICE_SEED = 20261204
SLICE_SIZE = 300


@pytest.mark.slow
def test_fuzz_slice_has_no_failure(tmp_path):
    summary = run_fuzz(load_corpus(), list(range(SLICE_SIZE)), SLICE_SEED, jobs=2,
                       limit=120.0, run_timeout=20.0, save=tmp_path)
    assert len(summary.outcomes) == SLICE_SIZE
    by_class: dict[str, list[str]] = {}
    for cls, outcome, _ in summary.failures:
        by_class.setdefault(cls, []).append(outcome.mutant)
    report = "\n".join(f"{len(ids):4d} {cls}: {' '.join(sorted(ids)[:8])}"
                       for cls, ids in sorted(by_class.items()))
    assert not by_class, f"fuzz failures (mutants saved under {tmp_path}):\n{report}"


EMIT_SLICE_SIZE = 100


@pytest.mark.slow
def test_fuzz_slice_emits_tflite_without_crash_or_disagreement(tmp_path):
    """The slice's first mutants, each also emitted to TFLite and compared with diagnose
    (tools/fuzz.py N --emit tflite): emit raises nothing but InputError, and refuses only
    what diagnose blocks, and the other way round."""
    summary = run_fuzz(load_corpus(), list(range(EMIT_SLICE_SIZE)), SLICE_SEED, jobs=2,
                       limit=120.0, run_timeout=20.0, save=tmp_path, emit="tflite")
    assert len(summary.outcomes) == EMIT_SLICE_SIZE
    emitted = [(cls, o.mutant) for cls, o, _ in summary.failures if cls.startswith("emit ")]
    crashes = [f"{mutant}: {cls}" for cls, mutant in emitted if "crash" in cls]
    assert not crashes, f"emit crashed (mutants saved under {tmp_path}): {crashes}"
    disagree = sorted(mutant for cls, mutant in emitted if "DISAGREE" in cls)
    assert not disagree, f"diagnose and emit disagree (saved under {tmp_path}): {disagree}"
