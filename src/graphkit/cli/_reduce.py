"""graphkit reduce: the smallest part of a model that still fails to convert or validate."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from graphkit.cli._common import (
    _seconds,
    add_format_option,
    add_timeout_option,
    console,
    print_json,
    progress,
)
from graphkit.cli._compare import add_tolerance_options, tolerances

EXAMPLES = """examples:
  graphkit reduce model.onnx --target tflite                  # writes model.min.onnx
  graphkit reduce model.onnx --target torchscript -o small.onnx --format json
  graphkit reduce model.onnx --check "trtexec --onnx={model}"  # a runtime graphkit cannot run
  graphkit reduce model.onnx --check "python my_check.py {model}" --check-timeout 60

Without --check, a part fails where `graphkit convert --to TARGET` fails on it or writes an
artifact whose outputs differ. With --check, where the command exits non-zero or runs past
--check-timeout: it is split like a shell line but run without a shell, {model} replaced by
the part's path. Parts are runs of nodes in topological order, then single branches (as
Polygraphy's `debug reduce`); only parts that fail the way the whole model does count.

exit codes: 0 the smallest failing part is written and its last node named, 1 the model
            does not fail (nothing to reduce), 2 bad input or usage
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "reduce", help="bisect a failing model to the smallest part that still fails",
        description="Find the smallest run of nodes that still fails to convert (or validate, "
                    "or pass your --check command), write it, and name the failing node.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="ONNX/TFLite/Keras file or SavedModel folder")
    parser.add_argument("--target", help="convert to this target as the check (e.g. tflite)")
    parser.add_argument("--check", metavar="COMMAND",
                        help="a command that exits non-zero when the model at {model} fails")
    parser.add_argument("--check-timeout", type=_seconds, default=300.0, metavar="SECONDS",
                        help="longest one run of --check may take; past it the part fails "
                             "(default: 300)")
    parser.add_argument("-o", "--output", help="where to write the part (default: MODEL.min.onnx)")
    add_tolerance_options(parser)
    add_timeout_option(parser)
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from graphkit._output import check_output_path
    from graphkit.errors import InputError
    from graphkit.reduce import (
        NothingToReduce,
        command_check,
        convert_check,
        reduce_model,
        write_model,
    )

    if (args.check is None) == (args.target is None):
        raise InputError("reduce needs one of --target T (graphkit's convert decides) "
                         "or --check COMMAND (its exit status decides)")
    output = Path(args.output) if args.output else _default_output(Path(args.model))
    check_output_path(output, (".onnx",), "the reduced model")
    if args.check is not None:
        check = command_check(args.check, timeout=args.check_timeout)
    else:
        rtol, atol = tolerances(args)
        check = convert_check(args.target, timeout=args.timeout, rtol=rtol, atol=atol)
    with progress(f"reducing {args.model}") as update:
        try:
            result = reduce_model(args.model, check, on_try=lambda n: update(f"try {n}"))
        except NothingToReduce as err:
            return _nothing(args, str(err))
    write_model(result.model, output)
    if args.format == "json":
        print_json({"model": args.model, "output": str(output), "ok": True, **result.to_json()})
        return 0
    out = console()
    out.print(f"failing node: '{escape(result.node)}' ({result.op})")
    out.print(f"reason: {escape(result.reason)}")
    out.print(f"wrote {escape(str(output))}: {result.nodes_after} of {result.nodes_before} "
              f"nodes ({result.tries} tries)")
    return 0


def _nothing(args: argparse.Namespace, message: str) -> int:
    if args.format == "json":
        print_json({"model": args.model, "ok": False, "reason": message})
    else:
        console().print(message)
    return 1


def _default_output(model: Path) -> Path:
    return model.with_name(f"{model.stem if model.suffix else model.name}.min.onnx")
