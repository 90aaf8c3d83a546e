"""The `graphkit` command. Exit codes: 0 ok, 1 negative answer (blockers remain), 2 bad input.

Each subcommand lives in its own module with `add_parser(subparsers)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from graphkit import __version__
from graphkit._quiet import cli_output
from graphkit.cli import (
    _compare,
    _convert,
    _diagnose,
    _export,
    _fix,
    _inspect,
    _reduce,
    _table,
    _view,
)
from graphkit.cli._common import QUIET, fail
from graphkit.errors import GraphkitError

COMMANDS = (_inspect, _diagnose, _fix, _convert, _table, _compare, _reduce, _export, _view)

EPILOG = """examples:
  graphkit inspect model.onnx
  graphkit inspect model.onnx --format json | jq .ops
  graphkit diagnose model.onnx --target ort --target tflite
  graphkit fix model.onnx --target tensorrt -o fixed.onnx --pin batch=1
  graphkit convert model.onnx --to torchscript -o model.pt
  graphkit validate model.pt --reference model.onnx
  graphkit compare model.onnx model.tflite                 # the first node that drifts
  graphkit reduce model.onnx --target tflite               # the smallest part that fails
  graphkit export model.keras -o model.onnx                # skip tf2onnx from then on
  graphkit table model.onnx --targets ort,tflite,tensorrt
  graphkit view model.onnx --target tflite --html report.html

exit codes: 0 ok, 1 the model does not convert / blockers remain, 2 bad input or usage,
            3 internal error (a bug in graphkit: please report it with --debug output)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphkit",
        description="Why a model will not deploy, node by node, and the rewrites that fix it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"graphkit {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks of internal errors, and the libraries' own logs")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress on stderr (it shows only on a terminal anyway)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    QUIET["on"] = args.quiet
    try:
        with cli_output(args.debug):  # library logs and warnings off, unless --debug
            return int(args.run(args))
    except GraphkitError as err:
        return fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as err:  # a bug: one line for users, the traceback with --debug
        if args.debug:
            raise
        return fail(f"internal error: {type(err).__name__}: {err} (rerun with --debug)", 3)
