"""Fuzz graphkit with mutated ONNX models and print what happened, per outcome and failure class.

    python tools/fuzz.py 2000 --seed 7 --jobs 2 --save /tmp/fuzz-crashes
    python tools/fuzz.py 1 --seed 7 --only 1234        # make and run mutant 7-1234 again
    python tools/fuzz.py 300 --seed 7 --emit tflite    # emit each mutant too, vs diagnose

The mutants are the ONNX backend node cases and 'light' models, changed as tests/fuzz/
_fuzz_mutate.py says; each runs `inspect`, `diagnose` and `fix` in a worker process under a
memory limit and a per-mutant time limit. Exit status: 0 no failure, 1 some.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))

from _fuzz_corpus import load_corpus  # noqa: E402
from _fuzz_harness import EMITTERS, Outcome, Summary, run_fuzz  # noqa: E402

EXAMPLES = 12  # disagreements and crashes shown with their message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="how many mutants")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="index of the first mutant")
    parser.add_argument("--only", type=int, action="append", help="run just this mutant index")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--limit", type=float, default=120.0,
                        help="seconds a mutant may take before it counts as a hang")
    parser.add_argument("--save", type=Path, default=Path("fuzz-crashes"),
                        help="folder for failing mutants (a few per class)")
    parser.add_argument("--verbose", action="store_true", help="a line per mutant")
    parser.add_argument("--emit", choices=EMITTERS,
                        help="also emit each mutant that loads and compare with diagnose")
    args = parser.parse_args(argv)
    started = time.monotonic()
    corpus = load_corpus()
    indices = args.only or list(range(args.start, args.start + args.count))
    summary = run_fuzz(corpus, indices, args.seed, jobs=args.jobs, limit=args.limit,
                       save=args.save, progress=_printer(args.verbose, len(indices)),
                       emit=args.emit)
    _report(summary, time.monotonic() - started, args.save)
    return 1 if summary.failures else 0


def _printer(verbose: bool, total: int):
    done = [0]

    def show(outcome: Outcome) -> None:
        done[0] += 1
        if verbose or outcome.failures:
            failed = "; ".join(cls for cls, _ in outcome.failures) or "ok"
            print(f"[{done[0]}/{total}] {outcome.mutant} {outcome.base} "
                  f"{'+'.join(outcome.mutations)} -t {outcome.target}: {outcome.exits} {failed}",
                  flush=True)
        elif done[0] % 100 == 0:
            print(f"[{done[0]}/{total}]", flush=True)

    return show


def _report(summary: Summary, seconds: float, save: Path) -> None:
    print(f"\n{len(summary.outcomes)} mutants in {seconds:.0f} s")
    print("outcomes:")
    for key, count in sorted(summary.exit_counts().items()):
        print(f"  {count:6d}  {key}")
    failures = summary.failure_counts()
    print(f"failures: {sum(failures.values())}" + (f" (saved under {save})" if failures else ""))
    for cls, count in failures.most_common():
        example = next(o.mutant for c, o, _ in summary.failures if c == cls)
        print(f"  {count:6d}  {cls}  (e.g. {example})")
    emitted = summary.emit_counts()
    if emitted:
        print("emitter stage:")
        for cls, count in emitted.most_common():
            print(f"  {count:6d}  {cls}")
        shown = [(o, cls, detail) for cls, o, detail in summary.failures
                 if cls.startswith("emit ")][:EXAMPLES]
        for outcome, cls, detail in shown:
            index = outcome.mutant.rsplit("-", 1)[-1]
            print(f"  {outcome.mutant} (--only {index}) {outcome.base}: {cls}\n"
                  f"      {detail.strip().splitlines()[-1][:300]}")


if __name__ == "__main__":
    sys.exit(main())
