"""Does `fix` need the user's inputs? One ONNX conformance case per op, fixed for ort twice.

For each op, the first node case (by name) whose graph starts with that op, leaving out the
`_expanded` function bodies. `graphkit.fix(case, "ort")` runs once with the case's own
inputs and once with none (graphkit generates them); a run passes when fix returns and
every output matches the original model's. The two pass counts are printed side by side,
and every case that passes with its inputs but not without them.

    python tools/generated_inputs.py                  # every op: 197 cases, about 20 s
    python tools/generated_inputs.py --ops Gather,CumSum,Resize --failures
    python tools/generated_inputs.py --every-case     # every case of every op: 1,404, ~2 min

Measured (onnx 1.23, onnxruntime 1.32): on main before generated inputs followed their
consumers, 187 passed with the cases' inputs and 170 with generated ones (every case: 1,274
and 1,117); now 189 and 189 (1,282 and 1,282). The cases that fail either way feed types
ORT's Python API cannot take (bfloat16), need Pillow, are random (Bernoulli), or return
sequences of tensors of different shapes.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from graphkit.errors import GraphkitError, first_line


@dataclass(frozen=True)
class Outcome:
    case: str
    with_inputs: str  # "" when fix passed, else why not
    generated: str

    @property
    def regressed(self) -> bool:
        """Passes with the case's inputs, not with generated ones."""
        return not self.with_inputs and bool(self.generated)


def one_case_per_op(ops: Iterable[str] | None = None, every: bool = False) -> dict[str, Any]:
    """Op type -> its first node case by name (expanded function bodies left out).
    `every`: case name -> case, for every case of those ops."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators' own numpy overflow warnings
        cases = [c for c in collect_testcases(None) if c.kind == "node" and c.model.graph.node]
    wanted = set(ops or ())
    chosen: dict[str, Any] = {}
    for case in sorted(cases, key=lambda c: c.name):
        op = case.model.graph.node[0].op_type
        if "_expanded" in case.name or op in chosen or (wanted and op not in wanted):
            continue
        chosen[case.name if every else op] = case
    return dict(sorted(chosen.items()))


def case_inputs(case: Any) -> dict[str, Any]:
    """The case's first data set, by input name (scalars as 0-d arrays)."""
    initializers = {tensor.name for tensor in case.model.graph.initializer}
    names = [v.name for v in case.model.graph.input if v.name not in initializers]
    data = case.data_sets[0][0] if case.data_sets else []
    return {name: _array(item) for name, item in zip(names, data)}


def _array(item: Any) -> Any:
    if isinstance(item, onnx.TensorProto):
        return onnx.numpy_helper.to_array(item)
    if isinstance(item, np.generic):
        return np.asarray(item)
    return item


def fix_outcome(case: Any, inputs: dict[str, Any] | None) -> str:
    """'' when fix for ort returns and every output matches; else the reason, one line."""
    import graphkit

    try:
        _, report = graphkit.fix(case.model, "ort", inputs=inputs)
    except GraphkitError as err:
        return f"exit {err.exit_code}: {first_line(err, 160)}"
    except Exception as err:  # a graphkit bug: exit 3 on the command line
        return f"exit 3: {type(err).__name__}: {first_line(err, 160)}"
    bad = [diff.name for diff in report.validation if not diff.ok]
    return f"outputs differ: {bad}" if bad else ""


def measure(cases: dict[str, Any]) -> list[Outcome]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warnings of the reference evaluator
        return [Outcome(case.name, fix_outcome(case, case_inputs(case)), fix_outcome(case, None))
                for case in cases.values()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", help="only these ops (comma-separated)")
    parser.add_argument("--every-case", action="store_true",
                        help="every case of each op, not one (~1,300 cases, a few minutes)")
    parser.add_argument("--failures", action="store_true", help="print every failing run")
    args = parser.parse_args(argv)
    ops = args.ops.split(",") if args.ops else None
    outcomes = measure(one_case_per_op(ops, args.every_case))
    given = sum(not o.with_inputs for o in outcomes)
    generated = sum(not o.generated for o in outcomes)
    sample = "" if args.every_case else ", one per op"
    print(f"{len(outcomes)} cases{sample}; fix --target ort passes:")
    print(f"  with the case's inputs: {given}")
    print(f"  with generated inputs:  {generated}")
    for outcome in outcomes:
        if outcome.regressed:
            print(f"  NEEDS INPUTS {outcome.case}: {outcome.generated}")
        elif args.failures and (outcome.with_inputs or outcome.generated):
            print(f"  FAIL {outcome.case}: given: {outcome.with_inputs or 'ok'}; "
                  f"generated: {outcome.generated or 'ok'}")
    return 0 if not any(o.regressed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
