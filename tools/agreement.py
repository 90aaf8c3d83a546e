"""Does diagnose's verdict match what the target really does, on every ONNX conformance case?

For each node test case that ships with onnx (`collect_testcases`), compare
`graphkit.diagnose(case.model, target).convertible` with the truth: for `ort`, whether
ONNX Runtime (CPU) creates a session for the model and runs it on the case's inputs.
Prints the agreement and every disagreement with both sides' reasons.

    python tools/agreement.py                    # every case, target ort
    python tools/agreement.py --sample 200       # a seeded random sample
    python tools/agreement.py --json out.json    # machine-readable, for CI trends
    python tools/agreement.py --target torchscript

For `torchscript` the truth is the emitter's own conformance runner
(graphkit.backends.conformance): the emitter writes a .pt and it reproduces every expected
output. Measured: 1,884 of 1,884 cases agree (1,508 convert and match); about 1.5 minutes.
For `tflite` the truth is the same runner with graphkit's TFLite emitter (a .tflite run
in LiteRT); cases with bfloat16/float8/int4 data go unmeasured (LiteRT's Python API takes
numpy arrays). Measured: 1,693 of 1,693 measured cases agree (996 convert and match).
Other targets plug in by adding a ground-truth function to GROUND_TRUTH, taking a test
case and returning (runs, reason); None for "runs" means the harness cannot tell.

For `ort` (onnxruntime 1.32) every measured case agrees: 1,812 of 1,812. The limits that
onnxruntime's kernel registry does not state (RNN layout=1, per-channel ConvInteger weight
zero points, empty bool Max/Min reductions, an Attention mask shorter than the keys, the
locale StringNormalizer loads) are data in opsets/ort.toml, each checked against ORT in
tests/targets/test_ort_limits.py. 72 more cases use 2- and 4-bit element types that
onnxruntime's Python API cannot be fed, so they go unmeasured. A failure that only tensor
values reveal (no shape, type or attribute shows it) would show up here as "diagnose
passes, but it fails"; the corpus has none today.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import onnx

Truth = Callable[[Any], "tuple[bool | None, str]"]


@dataclass(frozen=True)
class Verdict:
    case: str
    predicted: bool  # diagnose says the target takes the model
    actual: bool | None  # the target really runs it (None: the harness cannot tell)
    diagnose_reason: str
    actual_reason: str

    @property
    def agrees(self) -> bool:
        return self.predicted == self.actual


class Unmeasurable(Exception):
    """The harness cannot feed this case to the runtime (not a verdict about the model)."""


def ort_runs(case: Any) -> tuple[bool | None, str]:
    """Whether ONNX Runtime's CPU EP loads the case's model and runs it on the case's inputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        feeds = _feeds(case.model, case.data_sets[0][0] if case.data_sets else [])
    except Unmeasurable as err:
        return None, str(err)
    try:
        session = ort.InferenceSession(case.model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        _run(session, feeds)
    except Exception as err:  # any failure to load or run is the answer "does not run"
        return False, _one_line(err)
    return True, ""


def _run(session: Any, feeds: dict[str, Any]) -> None:
    """Run; where an output has a type numpy lacks (bfloat16, float8), keep outputs as
    OrtValues, since converting them to numpy would fail after a successful run."""
    import onnxruntime as ort

    exotic = any(_elem_type(output.type) in EXOTIC_BITS for output in session.get_outputs())
    if not exotic:
        session.run(None, feeds)
        return
    values = {name: v if isinstance(v, ort.OrtValue) else ort.OrtValue.ortvalue_from_numpy(v)
              for name, v in feeds.items()}
    session.run_with_ort_values(None, values)


def _elem_type(type_str: str) -> int | None:
    name = type_str.removeprefix("tensor(").removesuffix(")").upper()
    return getattr(onnx.TensorProto, name, None) if type_str.startswith("tensor(") else None


def emitter_runs(target: str) -> Truth:
    """Ground truth for a target graphkit emits (torchscript, tflite): whether its emitter
    writes the artifact for the case and it reproduces every expected output
    (graphkit.backends.conformance: its tolerances, its dtype rules)."""

    def runs(case: Any) -> tuple[bool | None, str]:
        import tempfile
        from pathlib import Path

        from graphkit.backends import conformance

        adapter = _emitter_adapter(target)
        with tempfile.TemporaryDirectory(prefix="graphkit-agreement-") as folder:
            result = conformance.run_case(case, adapter, Path(folder))
        if not result.measured:
            return None, "the runner cannot be fed this case's data types"
        return result.passed, result.reason

    return runs


@functools.cache
def _emitter_adapter(target: str) -> Any:
    from graphkit.backends import conformance

    return conformance.adapter(target)


GROUND_TRUTH: dict[str, Truth] = {
    "ort": ort_runs,
    "torchscript": emitter_runs("torchscript"),
    "tflite": emitter_runs("tflite"),
}


def _feeds(model: onnx.ModelProto, inputs: Sequence[Any]) -> dict[str, Any]:
    initializers = {init.name for init in model.graph.initializer}
    declared = [value for value in model.graph.input if value.name not in initializers]
    return {value.name: _feed(value, data) for value, data in zip(declared, inputs, strict=False)}


# ONNX element types numpy has no native dtype for, and their width in bits.
EXOTIC_BITS = {16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2}


def _feed(value: onnx.ValueInfoProto, data: Any) -> Any:
    """Case data as ONNX Runtime's Python API takes it: arrays, not numpy scalars, and
    types numpy lacks (bfloat16, float8) copied in as raw bits under their ONNX type."""
    import numpy as np
    from onnx import numpy_helper

    if isinstance(data, onnx.TensorProto):
        if data.data_type not in EXOTIC_BITS:
            return numpy_helper.to_array(data)
        return _raw_ort_value(list(data.dims), data.data_type, numpy_helper.to_array(data))
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if not isinstance(data, np.ndarray) or data.dtype.isbuiltin == 1:  # 2: ml_dtypes' types
        return data
    return _raw_ort_value(list(data.shape), value.type.tensor_type.elem_type, data)


def _raw_ort_value(shape: list[int], elem_type: int, array: Any) -> Any:
    import numpy as np
    import onnxruntime as ort

    bits = EXOTIC_BITS.get(elem_type, 8 * array.dtype.itemsize)
    if bits < 8:
        raise Unmeasurable(f"cannot feed a {bits}-bit element type through the Python API")
    raw = np.ascontiguousarray(array).view(np.dtype(f"uint{bits}")).reshape(shape)
    if bits == 16:  # onnxruntime's numpy bridge has no bfloat16, but takes its bits
        return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(raw, elem_type)
    value = ort.OrtValue.ortvalue_from_shape_and_type(shape, elem_type)
    value.update_inplace(raw)
    return value


def predict(case: Any, target: str) -> tuple[bool, str]:
    import graphkit
    from graphkit.errors import GraphkitError

    try:
        report = graphkit.diagnose(case.model, target)
    except GraphkitError as err:
        return False, str(err)
    blockers = report.blockers
    return not blockers, blockers[0].message if blockers else ""


def load_cases(names: Sequence[str] | None = None, sample: int | None = None,
               seed: int = 0) -> list[Any]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators' own numpy overflow warnings
        cases = [case for case in collect_testcases(None) if case.kind == "node"]
    if names:
        wanted = set(names)
        cases = [case for case in cases if case.name in wanted]
    if sample is not None and sample < len(cases):
        cases = random.Random(seed).sample(cases, sample)
    return sorted(cases, key=lambda case: case.name)


def measure(cases: Sequence[Any], target: str = "ort") -> list[Verdict]:
    if target not in GROUND_TRUTH:
        known = ", ".join(GROUND_TRUTH)
        raise SystemExit(f"no ground truth for target '{target}' yet (have: {known})")
    truth = GROUND_TRUTH[target]
    verdicts = []
    for case in cases:
        predicted, why_predicted = predict(case, target)
        actual, why_actual = truth(case)
        verdicts.append(Verdict(case.name, predicted, actual, why_predicted, why_actual))
    return verdicts


def summary(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    measured = [v for v in verdicts if v.actual is not None]
    agree = sum(v.agrees for v in measured)
    return {
        "cases": len(measured),
        "agree": agree,
        "agreement": agree / len(measured) if measured else 1.0,
        "runs": sum(bool(v.actual) for v in measured),
        "unmeasured": [asdict(v) for v in verdicts if v.actual is None],
        "false_blockers": [asdict(v) for v in measured if v.actual and not v.predicted],
        "missed_blockers": [asdict(v) for v in measured if v.predicted and not v.actual],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="ort", help="target to measure (default: ort)")
    parser.add_argument("--sample", type=int, help="measure a seeded random sample of cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    verdicts = measure(load_cases(args.case, args.sample, args.seed), args.target)
    result = summary(verdicts)
    print(f"target {args.target}: {result['agree']}/{result['cases']} cases agree "
          f"({100 * result['agreement']:.2f}%); the target runs {result['runs']} of them")
    for kind, title in (("false_blockers", "diagnose blocks, but it runs"),
                        ("missed_blockers", "diagnose passes, but it fails"),
                        ("unmeasured", "not measured")):
        for item in result[kind]:
            reason = item["diagnose_reason"] if kind == "false_blockers" else item["actual_reason"]
            print(f"  {title}: {item['case']}: {reason}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0 if result["agree"] == result["cases"] else 1


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())[:300]


if __name__ == "__main__":
    sys.exit(main())
