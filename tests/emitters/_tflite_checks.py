"""Shared by the TFLite emitter's tests: a model written in ONNX text converts (diagnose
--target tflite finds no blocker), its .tflite runs in LiteRT on real inputs, and every
output matches ONNX Runtime or onnx's reference evaluator in shape, element type and
values; or diagnose and the emitter both refuse it, saying why.

Importing this module skips the importing test module where LiteRT is missing
(conftest.require), so only TFLite test modules import it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from conftest import require, run_ort

require("ai_edge_litert.interpreter", "tensorflow")

import graphkit  # noqa: E402
from graphkit.backends.artifact import Artifact  # noqa: E402
from graphkit.backends.tflite.emitter import emit  # noqa: E402
from graphkit.backends.tflite.runner import run_artifact  # noqa: E402
from graphkit.errors import InputError  # noqa: E402

Feeds = dict[str, np.ndarray]
Parse = Callable[[str], onnx.ModelProto]


def parse_checked(text: str) -> onnx.ModelProto:
    """The model in ONNX text, checked (as conftest.model_from_text reads it)."""
    proto = onnx.parser.parse_model(text)
    onnx.checker.check_model(proto)
    return proto


def _model(text: str, parse: Parse) -> ir.Model:
    return ir.serde.deserialize_model(parse(text))


def reference(text: str, feeds: Feeds, evaluator: bool = False, *,
              parse: Parse = parse_checked) -> list[np.ndarray]:
    """The outputs of ONNX Runtime, or with `evaluator` of onnx's reference evaluator (for
    ops ORT has no kernel for). `parse` reads the text (a file's own reader, say)."""
    if not evaluator:
        return run_ort(_model(text, parse), feeds)
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(parse(text)).run(None, feeds)


def emitted(tmp_path, text: str, *, parse: Parse = parse_checked) -> Artifact:
    """The model converts and diagnose agrees: no blockers, and the emitter writes it."""
    model = _model(text, parse)
    assert graphkit.diagnose(model, "tflite").blockers == []
    return emit(model, tmp_path / "m.tflite")


def run_matches(path, text: str, feeds: Feeds, *, evaluator: bool = False,
                ort: bool | None = None, rtol: float = 1e-5, atol: float = 1e-5,
                exact: bool = False, compare_as: np.dtype | type | None = None,
                parse: Parse = parse_checked) -> None:
    """The .tflite at `path`, run in LiteRT on `feeds`, gives every output of the reference:
    the same shape and element type, values within rtol and atol (equal with `exact`).

    The reference is ONNX Runtime, or onnx's reference evaluator with `evaluator`; `ort`
    says whether ONNX Runtime is compared too (by default: where the evaluator is not).
    `compare_as` casts both sides to that type before comparing the values (float16 ones
    as float32, say), once their types were found equal."""
    model = _model(text, parse)
    got = run_artifact(path, feeds)
    references = [reference(text, feeds, evaluator=True, parse=parse)] if evaluator else []
    if (not evaluator) if ort is None else ort:
        references.append(reference(text, feeds, parse=parse))
    assert references, "compared with nothing: ask for ONNX Runtime or the evaluator"
    small = ", ".join(f"{name}={np.asarray(array).tolist()}" for name, array in feeds.items()
                      if np.size(array) <= 8)
    for want in references:
        for value, expected in zip(model.graph.outputs, want, strict=True):
            actual = got[value.name]
            where = f"{value.name} (at {small})" if small else value.name
            assert actual.shape == expected.shape, where
            assert actual.dtype == expected.dtype, where
            if exact:
                np.testing.assert_array_equal(actual, expected, err_msg=where)
                continue
            if compare_as is not None:
                actual, expected = actual.astype(compare_as), expected.astype(compare_as)
            np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=where)


def emitted_matches(tmp_path, text: str, feeds: Feeds, *, evaluator: bool = False,
                    ort: bool | None = None, rtol: float = 1e-5, atol: float = 1e-5,
                    exact: bool = False, compare_as: np.dtype | type | None = None,
                    parse: Parse = parse_checked) -> Artifact:
    """The model converts, diagnose agrees, and every output matches the reference (as
    run_matches says). The artifact, for what the test asks of it (its builtins, say)."""
    artifact = emitted(tmp_path, text, parse=parse)
    run_matches(artifact.path, text, feeds, evaluator=evaluator, ort=ort, rtol=rtol,
                atol=atol, exact=exact, compare_as=compare_as, parse=parse)
    return artifact


def refused(text: str, words: str, *, blocker_says: Literal["first", "any"] | None = None,
            parse: Parse = parse_checked) -> None:
    """Diagnose blocks the model and the emitter refuses it with an InputError saying
    `words` (a pattern). With `blocker_says`, diagnose's first blocker (or any of them)
    says the words too."""
    model = _model(text, parse)
    blockers = graphkit.diagnose(model, "tflite").blockers
    assert blockers
    if blocker_says == "first":
        assert re.search(words, blockers[0].message), blockers
    elif blocker_says == "any":
        assert any(re.search(words, blocker.message) for blocker in blockers), blockers
    with pytest.raises(InputError, match=words):
        emit(model, "never.tflite")


def normal(rng: np.random.Generator, *shape: int, dtype=np.float32) -> np.ndarray:
    """Standard normal values of that shape and type."""
    return rng.standard_normal(shape).astype(dtype)
