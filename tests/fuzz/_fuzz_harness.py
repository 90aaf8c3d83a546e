"""Run graphkit on mutants in worker processes with time and memory limits; classify outcomes.

Each worker imports graphkit once (start-up is ~1.5 s) and runs `inspect`, `diagnose` and
`fix` in-process through the CLI's own `main`, with file descriptors 1 and 2 sent to a file
so that library output is seen too. A worker runs under RLIMIT_AS, so a runaway allocation
fails in it instead of taking the machine; the parent kills a worker that runs past the
per-mutant limit (a hang) and notices one that dies (a signal).

Outcomes: exit 0, 1 and 2 are fine. Failures: exit 3 (an exception escaping graphkit: the
commands run with --debug so that its type and place name the failure class), a traceback
in the output, a signal, a hang, peak memory over the limit, and a fixed model written that
the ONNX checker or ONNX Runtime rejects (unless ORT rejects the input alike and diagnose
--target ort says why). Every failing mutant is saved for reproduction.

With `emit="tflite"` each mutant that loads is also emitted (graphkit.backends.tflite
.emitter.emit) and its verdict compared with `graphkit.diagnose(model, "tflite")`: both
accept, both refuse, or a failure: DISAGREE (diagnose has no blockers but emit raises
InputError, or diagnose blocks but emit writes the file) or CRASH (emit raises anything but
InputError). Verdicts are compared, not messages.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from _fuzz_mutate import Mutant, make_mutant

TARGETS = ("ort", "tflite", "tensorrt", "torchscript")
FINE_EXITS = (0, 1, 2)
MEMORY_LIMIT = 3 << 30  # address space of a worker (RLIMIT_AS)
PEAK_LIMIT = 2 << 30  # resident memory a mutant may reach
RECYCLE_AFTER = 150  # mutants per worker before a fresh one (slow leaks stay out of the figures)
SAVED_PER_CLASS = 3
EMITTERS = ("tflite",)
# the emitter stage's classes; DISAGREE and CRASH ones are failures too
EMIT_ACCEPT, EMIT_REFUSE, EMIT_NO_LOAD = "both accept", "both refuse", "load refused"
EMIT_MISSED = "DISAGREE: diagnose passes, emit refuses"
EMIT_FALSE = "DISAGREE: diagnose blocks, emit writes"
EMIT_CRASH = "CRASH"


@dataclass
class Outcome:
    """What one mutant did: each command's exit, and the failures found."""

    mutant: str
    base: str
    mutations: tuple[str, ...]
    target: str
    exits: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (class, detail)
    emit: str | None = None  # the emitter stage's class (EMIT_CLASSES), when it ran


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, Outcome, str]]:
        return [(cls, o, detail) for o in self.outcomes for cls, detail in o.failures]

    def exit_counts(self) -> Counter[str]:
        return Counter(f"{cmd} exit {code}" for o in self.outcomes for cmd, code in o.exits.items())

    def failure_counts(self) -> Counter[str]:
        return Counter(cls for cls, _, _ in self.failures)

    def emit_counts(self) -> Counter[str]:
        return Counter(o.emit for o in self.outcomes if o.emit is not None)


def commands(target: str, model: str, output: str, timeout: float) -> dict[str, list[str]]:
    return {
        "inspect": ["inspect", model],
        "diagnose": ["diagnose", model, "-t", target],
        "fix": ["fix", model, "-t", target, "-o", output, "--timeout", str(timeout)],
    }


def target_of(mutant_id: str) -> str:
    return random.Random(f"target-{mutant_id}").choice(TARGETS)


# --- the parent: hand out mutants, enforce the time limit, collect outcomes -----------------


class _Worker:
    def __init__(self, context: Any, run_timeout: float, emit: str | None = None) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, run_timeout, emit),
                                       daemon=True)
        self.process.start()
        child.close()
        self.job: Mutant | None = None
        self.started = 0.0
        self.done = 0

    def give(self, mutant: Mutant) -> None:
        self.job, self.started = mutant, time.monotonic()
        self.conn.send(mutant)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def run_fuzz(corpus: list[tuple[str, bytes]], indices: list[int], seed: int, *, jobs: int = 2,
             limit: float = 120.0, run_timeout: float = 20.0, save: Path | None = None,
             progress: Callable[[Outcome], None] | None = None,
             emit: str | None = None) -> Summary:
    """Mutants `indices` of run `seed`, `jobs` at a time; `limit`: seconds per mutant before
    it counts as a hang; `run_timeout`: fix's --timeout; `save`: where failing mutants go;
    `emit`: an emitter (EMITTERS) to run on each mutant and compare with diagnose."""
    context = multiprocessing.get_context("spawn")
    todo = list(reversed(indices))
    workers = [_Worker(context, run_timeout, emit) for _ in range(min(jobs, len(indices)) or 1)]
    summary = Summary()
    saved: Counter[str] = Counter()
    try:
        while todo or any(w.job for w in workers):
            for i, worker in enumerate(workers):
                if worker.job is None and todo:
                    if worker.done >= RECYCLE_AFTER:
                        worker.stop()
                        workers[i] = worker = _Worker(context, run_timeout, emit)
                    worker.give(make_mutant(corpus, seed, todo.pop()))
            busy = [w for w in workers if w.job is not None]
            ready = wait([w.conn for w in busy], timeout=1.0)
            for i, worker in enumerate(workers):
                if worker.job is None:
                    continue
                outcome = _collect(worker, worker.conn in ready, limit)
                if outcome is None:
                    continue
                if outcome.failures and save is not None:
                    _save(save, worker.job, outcome, saved)
                summary.outcomes.append(outcome)
                if progress:
                    progress(outcome)
                worker.job, worker.done = None, worker.done + 1
                if _needs_fresh_worker(outcome):
                    worker.stop()
                    workers[i] = _Worker(context, run_timeout, emit)
    finally:
        for worker in workers:
            worker.stop()
    return summary


def _collect(worker: _Worker, ready: bool, limit: float) -> Outcome | None:
    """The outcome of the worker's mutant, or None while it is still running."""
    mutant = worker.job
    assert mutant is not None
    if ready:
        try:
            return worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(5)
            code = worker.process.exitcode
            return _failed(mutant, "signal", f"worker died (exit code {code})")
    if time.monotonic() - worker.started > limit:
        return _failed(mutant, "hang", f"still running after {limit:.0f} s")
    return None


def _failed(mutant: Mutant, cls: str, detail: str) -> Outcome:
    outcome = Outcome(mutant.id, mutant.base, mutant.mutations, target_of(mutant.id))
    outcome.failures.append((cls, detail))
    return outcome


def _needs_fresh_worker(outcome: Outcome) -> bool:
    return any(cls in ("signal", "hang", "memory") for cls, _ in outcome.failures)


def _save(folder: Path, mutant: Mutant, outcome: Outcome, saved: Counter[str]) -> None:
    for cls, detail in outcome.failures:
        if saved[cls] >= SAVED_PER_CLASS:
            continue
        saved[cls] += 1
        where = folder / _slug(cls)
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{mutant.id}.onnx").write_bytes(mutant.data)
        (where / f"{mutant.id}.txt").write_text(
            f"class: {cls}\nbase: {mutant.base}\nmutations: {', '.join(mutant.mutations)}\n"
            f"target: {outcome.target}\nexits: {outcome.exits}\n\n{detail}\n")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


# --- the worker: run the commands in-process --------------------------------------------------


def _serve(conn: Connection, run_timeout: float, emit: str | None = None) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from graphkit.cli import main  # once per worker: start-up is most of a small model's cost

    with tempfile.TemporaryDirectory(prefix="graphkit-fuzz-") as folder:
        while True:
            try:
                mutant = conn.recv()
            except EOFError:
                return
            conn.send(_run_mutant(main, mutant, Path(folder), run_timeout, emit))


def _run_mutant(main: Callable, mutant: Mutant, folder: Path, run_timeout: float,
                emit: str | None = None) -> Outcome:
    outcome = Outcome(mutant.id, mutant.base, mutant.mutations, target_of(mutant.id))
    model, output = folder / "model.onnx", folder / "fixed.onnx"
    model.write_bytes(mutant.data)
    output.unlink(missing_ok=True)
    for name, argv in commands(outcome.target, str(model), str(output), run_timeout).items():
        code, text, escaped = _run_cli(main, argv)
        outcome.exits[name] = code
        failure = _classify(name, code, text, escaped)
        if failure:
            outcome.failures.append(failure)
    if outcome.exits.get("fix") in (0, 1) and output.exists():
        rejected = _rejected(output)
        if rejected and not (_rejected(model) and _ort_blocked(model)):
            # graphkit broke a valid model, or passed an invalid one along without saying so
            input_too = " (and the input)" if _rejected(model) else " (not the input)"
            outcome.failures.append((rejected[0] + input_too, rejected[1]))
    if emit is not None:
        outcome.emit, failure = _emit_stage(emit, model, folder)
        if failure:
            outcome.failures.append(failure)
    peak = _peak_resident_bytes()
    if peak > PEAK_LIMIT:
        outcome.failures.append(("memory", f"peak resident memory {peak >> 20} MiB"))
    return outcome


def _emit_stage(emitter: str, model: Path, folder: Path) -> tuple[str, tuple[str, str] | None]:
    """(the emitter stage's class, a failure or None) for the mutant at `model`."""
    import graphkit
    from graphkit.backends.tflite.emitter import emit
    from graphkit.errors import GraphkitError, InputError

    assert emitter in EMITTERS, emitter
    try:
        graphkit.load(str(model))
    except Exception:  # a refused load is fine; one that crashes is the CLI stages' failure
        return EMIT_NO_LOAD, None
    try:
        report = graphkit.diagnose(str(model), emitter)
        blockers = [f.message for f in report.blockers]
    except GraphkitError as err:
        blockers = [str(err)]
    except Exception:  # diagnose's crash is the CLI stage's failure, not the emitter's
        return EMIT_NO_LOAD, None
    output = folder / f"m.{emitter}"
    output.unlink(missing_ok=True)
    try:
        emit(graphkit.load(str(model)), output)
        refused = None
    except InputError as err:
        refused = str(err)
    except Exception:
        trace = traceback.format_exc()
        return EMIT_CRASH, (f"emit {emitter} crash: {_where(trace)}", trace)
    if blockers and refused is None:
        return EMIT_FALSE, (f"emit {emitter} {EMIT_FALSE}",
                            f"diagnose: {blockers[0]}\nemit wrote {output.name}")
    if refused is not None and not blockers:
        return EMIT_MISSED, (f"emit {emitter} {EMIT_MISSED}", f"emit: {refused}")
    return (EMIT_REFUSE if blockers else EMIT_ACCEPT), None


def _peak_resident_bytes() -> int:
    """This worker's own peak: VmHWM where Linux gives it. ru_maxrss survives exec, so a
    worker spawned from a parent already over the limit (a pytest process that loaded
    TensorFlow and Keras models) would report the parent's size for every mutant."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # POSIX only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_cli(main: Callable, argv: list[str]) -> tuple[int, str, str]:
    """(exit code, everything written to fd 1 and 2, the traceback of an escaping exception)."""
    escaped = ""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        try:
            code = main(["--debug", *argv])
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else 2
        except BaseException:  # with --debug a graphkit bug escapes here: that is exit 3
            code, escaped = 3, traceback.format_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
    return code, text, escaped


def _classify(command: str, code: int, text: str, escaped: str) -> tuple[str, str] | None:
    if escaped:
        return f"{command} exit 3: {_where(escaped)}", escaped
    if code == 3:
        return f"{command} exit 3: {text.strip().splitlines()[-1][:80]}", text
    if code not in FINE_EXITS:
        return f"{command} exit {code}", text
    if "Traceback (most recent call last)" in text:
        return f"{command} traceback in output", text
    return None


def _where(trace: str) -> str:
    """'TypeError at src/graphkit/x.py:12': the exception and graphkit's innermost frame."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
    ours = [(f, n) for f, n in frames if "/graphkit/" in f or "/passes/" in f]
    file, line = (ours or frames or [("?", "?")])[-1]
    short = re.sub(r".*/(src/graphkit|graphkit|passes)/", r"\1/", file)
    kind = trace.strip().splitlines()[-1].split(":")[0]
    return f"{kind} at {short}:{line}"


def _rejected(path: Path) -> tuple[str, str] | None:
    """A failure when the written model fails the ONNX checker or ONNX Runtime's loading."""
    import onnx
    import onnxruntime as ort

    from graphkit.runner import UNKNOWN_RANK_COMPLAINT

    try:
        onnx.checker.check_model(str(path))
    except Exception as err:
        if UNKNOWN_RANK_COMPLAINT not in str(err):  # the IR allows an input of unknown rank
            return "fix wrote a model the checker rejects", str(err)[:2000]
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:
        if _lacks_kernel(err):  # as for the valid node case itself (test_adam, bfloat16 ops)
            return None
        return "fix wrote a model ONNX Runtime rejects", str(err)[:2000]
    return None


def _ort_blocked(path: Path) -> bool:
    """diagnose --target ort says why ORT refuses the input (a kernel's attribute limit): then
    fix passing the model along as it came is what it reported, not a silent failure."""
    import graphkit

    try:
        return not graphkit.diagnose(str(path), "ort").convertible
    except Exception:  # diagnose refusing the input is no verdict on ORT
        return False


def _lacks_kernel(err: Exception) -> bool:
    """ORT has no kernel or op for a node, or this machine lacks what a kernel needs
    (StringNormalizer's en_US.UTF-8 locale, as for the valid node cases themselves): not a
    verdict on the model's validity."""
    text = str(err)
    return (type(err).__name__ == "NotImplemented" or "is not a registered function/op" in text
            or "Failed to construct locale" in text)
