"""graphkit table: op-compatibility tables (ops x targets)."""

from __future__ import annotations

import argparse
from pathlib import Path

from graphkit.cli._common import progress
from graphkit.cli._folders import FOLDER_HELP, add_folder_options, print_table, run_folder

EXAMPLES = """examples:
  graphkit table model.onnx --targets ort,tflite,tensorrt
  graphkit table model.onnx --targets tflite --format md > report.md
  graphkit table --targets ort,torchscript --format html > ops.html   # whole ONNX op set
  graphkit table models/ --targets ort,tflite --jobs 4 --format csv > models.csv
  graphkit table models/ --targets tflite --ray auto --format json   # on a Ray cluster

without a model, cells come from the conformance runs in opsets/generated/ (tools/conformance.py)
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "table", help="op-compatibility table: ops x targets",
        description="With a model: a row per op in it and a column per target (ok / needs "
                    "a fix, and which pass / unsupported, and why). Without one: the whole "
                    "ONNX operator set per target, from generated conformance data.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", nargs="?", help=f"model to tabulate (optional), or {FOLDER_HELP}")
    parser.add_argument("--targets", default=None,
                        help="comma-separated targets (default: ort,tflite,tensorrt,torchscript "
                             "with a model; ort,torchscript,tflite without)")
    parser.add_argument("--format", choices=("text", "md", "html", "csv", "json"), default="text")
    add_folder_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from graphkit.folders import is_saved_model
    from graphkit.tables import model_table, operator_set_table, render

    default = "ort,tflite,tensorrt,torchscript" if args.model else "ort,torchscript,tflite"
    targets = [t.strip() for t in (args.targets or default).split(",") if t.strip()]
    if args.model and Path(args.model).is_dir() and not is_saved_model(Path(args.model)):
        return run_folder(args, targets, args.format)
    if args.model:
        with progress(f"diagnosing {args.model}"):
            table = model_table(args.model, targets)
    else:
        table = operator_set_table(targets)
    if args.format == "text":
        print_table(table)
    else:
        print(render(table, args.format), end="")
    return 0

