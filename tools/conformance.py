"""Run the ONNX conformance cases through an emitter and write opsets/generated/<target>.json.

    python tools/conformance.py --target torchscript            # all 1,884 cases
    python tools/conformance.py --target torchscript --ops Add,Conv -k expanded --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from graphkit.backends import conformance

GENERATED = Path(__file__).resolve().parent.parent / "opsets" / "generated"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="torchscript")
    parser.add_argument("--ops", help="only cases containing one of these ops (comma-separated)")
    parser.add_argument("-k", dest="keyword", help="only cases whose name contains this")
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON table")
    parser.add_argument("--failures", action="store_true", help="print every failing case")
    args = parser.parse_args(argv)
    target = conformance.adapter(args.target)
    ops = args.ops.split(",") if args.ops else None
    cases = conformance.load_cases(ops, args.keyword)
    summary = conformance.run(cases, target, _progress(len(cases)))
    print(file=sys.stderr)
    _report(summary, args.failures)
    if not args.no_write and not args.ops and not args.keyword:
        _write(conformance.table(summary, args.target), GENERATED / f"{args.target}.json")
    return 0


def _progress(total: int):
    done = [0]

    def show(result: conformance.CaseResult) -> None:
        done[0] += 1
        print(f"\r{done[0]}/{total} {result.name[:60]:<60}", end="", file=sys.stderr, flush=True)

    return show


def _report(summary: conformance.Summary, failures: bool) -> None:
    passed, total = summary.rate()
    std_passed, std_total = summary.rate(standard_only=True)
    disagree = summary.disagreements()
    print(f"all cases:            {passed}/{total} = {_pct(passed, total)}")
    print(f"standard-dtype cases: {std_passed}/{std_total} = {_pct(std_passed, std_total)}")
    measured = summary.measured()
    unmeasured = f" ({total - measured} not measured: data the runner cannot feed)" \
        if measured < total else ""
    print(f"analysis agrees:      {measured - len(disagree)}/{measured} = "
          f"{_pct(measured - len(disagree), measured)}{unmeasured}")
    for result in disagree:
        said = result.predicted or "lowerable"
        print(f"  DISAGREE {result.name}: analysis said {said!r}; outcome: "
              f"{result.reason or 'passed'}")
    if failures:
        for result in summary.results:
            if not result.passed:
                kind = "" if result.standard else " [non-standard dtype]"
                print(f"  FAIL{kind} {result.name}: {result.reason}")


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def _write(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w") as stream:
        json.dump(data, stream, indent=1, sort_keys=False)
        stream.write("\n")
    os.chmod(temp, 0o644)  # mkstemp makes it private; the table is for everyone to read
    os.replace(temp, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
