"""`graphkit diagnose DIR` and `graphkit table DIR`: every model under a folder, a row per
model and the op x target matrix, diagnosed in parallel (graphkit.folders)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table as RichTable

from graphkit._defaults import DEFAULT_MODEL_TIMEOUT
from graphkit.cli._common import console, print_json, progress

if TYPE_CHECKING:
    from graphkit.folders import FolderResult
    from graphkit.tables import Table

FOLDER_HELP = ("a folder: every model under it (.onnx, .tflite, .keras, .h5, SavedModel "
               "folders), a row per model plus the op x target matrix")
STYLES = {"ok": "green", "partial": "yellow", "warn": "yellow", "fix": "dark_orange", "no": "red",
          "error": "magenta"}


def add_folder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="with a folder: models diagnosed at once, each in its own process")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="with a folder: run the models as tasks on this Ray cluster "
                             "(e.g. auto, or ray://host:10001); its nodes must see the folder "
                             "at the same path")
    parser.add_argument("--model-timeout", type=float, default=DEFAULT_MODEL_TIMEOUT,
                        metavar="SECONDS",
                        help=f"with a folder: longest one model's diagnosis may take "
                             f"(default: {DEFAULT_MODEL_TIMEOUT:g}); past it the model's row "
                             "says so and the run goes on")


def run_folder(args: argparse.Namespace, targets: list[str], fmt: str) -> int:
    """Exit 0 when every model is accepted by every target, 1 when some target blocks a
    model or a model could not be diagnosed, 2 for a bad folder or option."""
    from graphkit.folders import diagnose_folder

    with progress(f"diagnosing the models under {args.model}", enabled=fmt == "text") as step:
        done: list[int] = []

        def on_model(row) -> None:
            done.append(1)
            step(f"{len(done)} done, last {row.path}")

        result = diagnose_folder(args.model, targets, jobs=args.jobs, timeout=args.model_timeout,
                                 ray_address=args.ray, on_model=on_model)
    _print(result, fmt)
    return 0 if result.convertible else 1


def _print(result: FolderResult, fmt: str) -> None:
    from graphkit.tables import html_document, render

    models, matrix = result.model_table(), result.op_matrix()
    if fmt == "json":
        print_json(result.to_json())
    elif fmt == "csv":  # one table per file: the rows per model (json has everything)
        sys.stdout.write(render(models, "csv"))
    elif fmt == "md":
        sys.stdout.write(render(models, "md") + "\n" + render(matrix, "md"))
    elif fmt == "html":
        sys.stdout.write(html_document([models, matrix]))
    else:
        print_table(models)
        print_table(matrix)


def print_table(table: Table) -> None:
    """A table (ops or models x targets) on the terminal; its row names are never cut."""
    out = console()
    grid = RichTable(title=escape(table.title), box=None)
    grid.add_column(table.row_label, no_wrap=True)  # a path or op name is never cut
    for target in table.targets:
        grid.add_column(target)
    for name, cells in table.rows.items():
        row = []
        for target in table.targets:
            cell = cells.get(target)
            text = escape(cell.text()) if cell else "untested"
            style = STYLES.get(cell.status, "") if cell else "dim"
            row.append(f"[{style}]{text}[/]" if style else text)
        grid.add_row(escape(name), *row)
    out.print(grid)
    for note in table.notes:
        out.print(f"note: {escape(note)}")
