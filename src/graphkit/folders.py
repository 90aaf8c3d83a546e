"""Many models at once: diagnose every model under a folder, a row per model and the
op x target matrix over all of them.

Each model is diagnosed in a child process of its own, `jobs` at a time: a model that
crashes its loader, hangs or exhausts memory costs only its own row, never the run. The
children are forked from a parent that has already imported graphkit, so a child starts in
milliseconds, not the second and a half that importing onnx takes. With `ray_address`, the
same per-model job runs as Ray tasks on a cluster instead (its nodes must read the folder at
the same path: a shared file system).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from graphkit._defaults import DEFAULT_MODEL_TIMEOUT
from graphkit.backends import get_target
from graphkit.diagnose import diagnose_targets
from graphkit.errors import InputError, first_line
from graphkit.tables import Cell, Table, worse_cell

MODEL_SUFFIXES = frozenset({".onnx", ".tflite", ".keras", ".h5"})


@dataclass
class ModelRow:
    """One model's outcome: per target `ok`, `warn`, `fix` (blocked, every blocker has a
    pass), `no` (a blocker nothing resolves); or `error` for the model as a whole."""

    path: str
    nodes: int = 0
    verdicts: dict[str, Cell] = field(default_factory=dict)  # target -> cell
    ops: dict[str, dict[str, Cell]] = field(default_factory=dict)  # op -> target -> cell
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"model": self.path, "nodes": self.nodes, "error": self.error or None,
                "targets": {t: {"status": c.status, "detail": c.detail}
                            for t, c in self.verdicts.items()}}


@dataclass
class FolderResult:
    folder: str
    targets: list[str]
    rows: list[ModelRow]
    seconds: float = 0.0

    @property
    def convertible(self) -> bool:
        return all(not row.error and all(c.status in ("ok", "warn") for c in row.verdicts.values())
                   for row in self.rows)

    def model_table(self) -> Table:
        """A row per model, a column per target."""
        table = Table(title=f"models under {self.folder}", targets=self.targets,
                      row_label="model")
        for row in self.rows:
            cells = {t: Cell("error") for t in self.targets} if row.error else dict(row.verdicts)
            table.rows[row.path] = cells
        failed = [row for row in self.rows if row.error]
        table.notes.append(f"{len(self.rows)} model(s) in {self.seconds:.1f} s"
                           + (f"; {len(failed)} could not be diagnosed" if failed else ""))
        table.notes += [f"{row.path}: {row.error}" for row in failed]
        return table

    def op_matrix(self) -> Table:
        """A row per op type over every model, a column per target: the worst verdict any
        model gave the op, and in how many of the models that hold it it is blocked."""
        table = Table(title=f"ops of the models under {self.folder}", targets=self.targets)
        holding: dict[str, int] = {}
        blocked: dict[str, dict[str, int]] = {}
        for row in self.rows:
            for op, cells in row.ops.items():
                holding[op] = holding.get(op, 0) + 1
                merged = table.rows.setdefault(op, {t: Cell("ok") for t in self.targets})
                for target, cell in cells.items():
                    merged[target] = worse_cell(merged[target], cell)
                    if cell.status in ("fix", "no"):
                        counts = blocked.setdefault(op, {})
                        counts[target] = counts.get(target, 0) + 1
        for op, cells in table.rows.items():
            for target, cell in cells.items():
                count = blocked.get(op, {}).get(target, 0)
                where = f"blocked in {count}/{holding[op]} models" if count else \
                    f"{holding[op]} model(s)"
                cells[target] = Cell(cell.status, f"{where}; {cell.detail}" if cell.detail
                                     else where)
        table.rows = dict(sorted(table.rows.items()))
        return table

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "targets": self.targets, "seconds": self.seconds,
                "convertible": self.convertible,
                "models": [row.to_json() for row in self.rows],
                "ops": self.op_matrix().to_json()["ops"]}


def find_models(folder: Path) -> list[Path]:
    """Model files and SavedModel folders under `folder`, sorted; a SavedModel's own files
    are not models of their own."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    found = []
    for path in sorted(folder.rglob("*")):
        if any(parent in found for parent in path.parents):
            continue  # inside a SavedModel already listed
        if is_saved_model(path) or path.is_file() and path.suffix.lower() in MODEL_SUFFIXES:
            found.append(path)
    return found


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").is_file()


def diagnose_folder(folder: str | Path, targets: Sequence[Any], *, jobs: int = 1,
                    timeout: float = DEFAULT_MODEL_TIMEOUT, ray_address: str | None = None,
                    on_model: Callable[[ModelRow], None] | None = None) -> FolderResult:
    """Diagnose every model under `folder` for `targets`. `on_model` is called as each
    model finishes (progress); rows come back in the folder's sorted order. `targets`:
    names or Target objects (a TensorRT target that knows the precision wanted)."""

    resolved = [get_target(target) for target in targets]  # unknown names fail before any work
    names = [target.name for target in resolved]
    if jobs < 1:
        raise InputError(f"--jobs must be 1 or more, got {jobs}")
    root = Path(folder)
    paths = find_models(root)
    if not paths:
        raise InputError(f"{root}: no models in it (looked for {', '.join(sorted(MODEL_SUFFIXES))} "
                         "files and SavedModel folders)")
    start = time.monotonic()
    run = _on_ray(ray_address) if ray_address else _in_children
    rows = {}
    for index, row in run([str(p) for p in paths], resolved, jobs, timeout):
        row.path = str(paths[index].relative_to(root)) if paths[index] != root else row.path
        rows[index] = row
        if on_model:
            on_model(row)
    return FolderResult(str(root), names, [rows[i] for i in sorted(rows)],
                        time.monotonic() - start)


def diagnose_model(path: str, targets: Sequence[Any]) -> ModelRow:
    """One model's row (what each child runs). Any error becomes the row's error: one bad
    model never ends the run."""

    row = ModelRow(path)
    try:
        result = diagnose_targets(path, list(targets), min_opset=False)
    except Exception as err:  # InputError for a bad model; anything else is still one row
        row.error = first_line(err)
        return row
    row.nodes = result.nodes
    for target, report in result.reports.items():
        verdict = Cell("ok")
        for finding in report.findings:
            verdict = worse_cell(verdict, finding)
            if finding.op:
                ops = row.ops.setdefault(finding.op, {})
                ops[target] = worse_cell(ops.get(target, Cell("ok")), finding)
        blockers = len(report.blockers)
        row.verdicts[target] = Cell(verdict.status, f"{blockers} blocker(s)" if blockers else "")
        # (the cell's detail is the count: the reasons are in the op matrix)
    for op in result.op_types:
        row.ops.setdefault(op, {})
    for cells in row.ops.values():
        for target in result.reports:
            cells.setdefault(target, Cell("ok"))
    return row


# --- running the jobs ---------------------------------------------------------------------


def _in_children(paths: list[str], targets: list[Any], jobs: int,
                 timeout: float) -> Iterator[tuple[int, ModelRow]]:
    """(index, row) per model as each finishes, at most `jobs` children at a time."""
    context = multiprocessing.get_context("fork")
    waiting = list(enumerate(paths))
    running: dict[Connection, tuple[Any, int, float]] = {}
    while waiting or running:
        while waiting and len(running) < jobs:
            index, path = waiting.pop(0)
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(path, targets, send), daemon=True)
            child.start()
            send.close()
            running[receive] = (child, index, time.monotonic())
        for conn in wait(list(running), timeout=0.2):
            child, index, _ = running.pop(conn)  # type: ignore[index]
            yield index, _received(conn, child, paths[index])
        now = time.monotonic()
        for conn, (child, index, started) in list(running.items()):
            if now - started > timeout:
                child.kill()
                child.join()
                del running[conn]
                yield index, ModelRow(paths[index], error=f"diagnose took over {timeout:g} s")


def _child(path: str, targets: list[Any], send: Connection) -> None:
    send.send(diagnose_model(path, targets))
    send.close()


def _received(conn: Connection, child: Any, path: str) -> ModelRow:
    try:
        row = conn.recv()
    except EOFError:  # the child died before answering: a signal, or out of memory
        child.join()
        return ModelRow(path, error=f"the diagnosing process died (exit code {child.exitcode})")
    child.join()
    return row


def _on_ray(address: str):
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs the ray package (pip install 'graphkit[ray]')") from None

    def run(paths: list[str], targets: list[Any], jobs: int,
            timeout: float) -> Iterator[tuple[int, ModelRow]]:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 logging_level="ERROR")
        try:
            yield from _ray_rows(ray, paths, targets, jobs, timeout)
        finally:  # leave the cluster: a driver still attached hears of its shutdown later
            ray.shutdown()

    return run


def _ray_rows(ray: Any, paths: list[str], targets: list[Any], jobs: int,
              timeout: float) -> Iterator[tuple[int, ModelRow]]:
    task = ray.remote(max_retries=0)(diagnose_model)
    refs = {task.remote(path, targets): index for index, path in enumerate(paths)}
    deadline = time.monotonic() + timeout * max(1, len(paths) / max(jobs, 1))
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1,
                           timeout=max(0.0, deadline - time.monotonic()))
        if not done:  # past the whole run's budget: the rest are reported, not awaited
            for ref, index in refs.items():
                ray.cancel(ref, force=True)
                yield index, ModelRow(paths[index], error="timed out on the Ray cluster")
            return
        for ref in done:
            index = refs.pop(ref)
            try:
                yield index, ray.get(ref)
            except Exception as err:  # a task that died on its node
                yield index, ModelRow(paths[index], error=f"Ray task failed: {first_line(err)}")
