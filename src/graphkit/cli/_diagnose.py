"""graphkit diagnose: why a model will not run on each target, node by node, and the fix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from graphkit.backends import target_table
from graphkit.cli._common import add_format_option, console, print_json, progress
from graphkit.cli._folders import FOLDER_HELP, add_folder_options, run_folder
from graphkit.cli._tensorrt import add_precision_option, targets_with_precision
from graphkit.errors import InputError

EXAMPLES = """examples:
  graphkit diagnose model.onnx --target ort
  graphkit diagnose model.onnx --target ort --target tflite --target tensorrt
  graphkit diagnose model.tflite --target ort --format json | jq '.targets.ort.findings'
  graphkit diagnose model.onnx --target tensorrt --format html > report.html
  graphkit diagnose models/ -t tflite -t tensorrt --jobs 4    # every model in a folder
  graphkit diagnose model.onnx --target tensorrt --precision fp16   # FP16 wanted: GK204

exit codes: 0 every target named takes the model, 1 some target has blockers,
            2 bad input (unreadable model, unknown target)
"""


def add_parser(subparsers) -> None:
    targets = ", ".join(f"{name} ({entry.description})" for name, entry in target_table().items())
    parser = subparsers.add_parser(
        "diagnose", help="why a model will not run on a target, node by node",
        description="Check every node (subgraphs and functions too) against one or more "
                    "targets before any conversion: the node, the reason, the rewrite "
                    "that fixes it.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="ONNX, TFLite, Keras (.keras/.h5) file or SavedModel "
                                      f"folder; or {FOLDER_HELP}")
    parser.add_argument("--target", "-t", action="append", dest="targets", metavar="T",
                        help=f"target to check (repeatable; default: ort). Known: {targets}")
    add_precision_option(parser)
    add_format_option(parser, choices=("text", "json", "md", "html", "csv"))
    add_folder_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from graphkit.cli._diagnose_render import print_text, render_html, render_markdown
    from graphkit.diagnose import diagnose_targets
    from graphkit.folders import is_saved_model

    names = list(dict.fromkeys(args.targets or ["ort"]))
    targets = targets_with_precision(names, args.precision)  # an unknown name fails here (exit 2)
    if Path(args.model).is_dir() and not is_saved_model(Path(args.model)):
        return run_folder(args, targets, args.format)
    if args.format == "csv":
        raise InputError("--format csv is for a folder of models (one row per model)")
    with progress(f"diagnosing {args.model}", enabled=args.format == "text"):
        result = diagnose_targets(args.model, targets)
    result.model = args.model  # the path the user typed says more than a graph name
    if args.format == "json":
        print_json(result.to_json())
    elif args.format == "md":
        sys.stdout.write(render_markdown(result) + "\n")
    elif args.format == "html":
        sys.stdout.write(render_html(result))
    else:
        print_text(result, console())
    return 0 if result.convertible else 1
