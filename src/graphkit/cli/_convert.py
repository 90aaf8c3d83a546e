"""graphkit convert / graphkit validate: emit an artifact and prove it against the reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

import graphkit
from graphkit._generated_inputs import load_npz_inputs
from graphkit.backends import emitter_names
from graphkit.backends.ort.emitter import LEVELS as ORT_LEVELS
from graphkit.cli._common import (
    add_format_option,
    add_timeout_option,
    console,
    print_json,
    progress,
)
from graphkit.errors import InputError
from graphkit.validation import DEFAULT_ATOL, DEFAULT_RTOL

CONVERT_EXAMPLES = """examples:
  graphkit convert model.onnx --to ort -o model.opt.onnx
  graphkit convert model.onnx --to ort -o model.ort          # ORT format + reduced-build config
  graphkit convert model.onnx --to torchscript -o model.pt --inputs sample.npz
  graphkit convert model.onnx --to ort -o out.onnx --no-fix --format json

exit codes: 0 artifact written and matches the reference, 1 it does not match (it is
            written, to inspect), 2 bad input or the model cannot be converted (nothing
            is written; a file already at the output stays as it was)
"""

VALIDATE_EXAMPLES = """examples:
  graphkit validate model.pt --reference model.onnx
  graphkit validate model.ort --reference model.onnx --inputs sample.npz --atol 1e-5
"""


def add_parser(subparsers) -> None:
    convert = subparsers.add_parser(
        "convert", help="fix for a target, emit the artifact, validate it",
        description="Fix the model for a target, write the artifact, and check its outputs "
                    "against ONNX Runtime running the original model.",
        epilog=CONVERT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("model", help="ONNX/TFLite/Keras file or SavedModel folder")
    convert.add_argument("--to", required=True, choices=sorted(emitter_names()), dest="target")
    convert.add_argument("-o", "--output", required=True,
                         help="artifact path (.onnx/.ort/.pt/.tflite)")
    convert.add_argument("--no-fix", action="store_true", help="emit the model as it is")
    convert.add_argument("--optimization", choices=ORT_LEVELS,
                         help="ORT optimization level (ort target; default extended)")
    convert.add_argument("--nhwc-io", action="store_true",
                         help="tflite: 4-D inputs and outputs in NHWC (no TRANSPOSE for a CNN)")
    convert.add_argument("--allow-flex", action="store_true",
                         help="tflite: write ops no builtin has as Select TF ops (Flex)")
    _add_check_options(convert)
    convert.set_defaults(run=run_convert)

    validate = subparsers.add_parser(
        "validate", help="compare an artifact's outputs with a reference model",
        description="Run an artifact and its reference model (ONNX Runtime) on the same "
                    "inputs; print max abs and rel error per output.",
        epilog=VALIDATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("artifact", help=".onnx, .ort, .pt or .tflite file")
    validate.add_argument("--reference", required=True, help="the model it was made from")
    _add_check_options(validate)
    validate.set_defaults(run=run_validate)


def _add_check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inputs", help=".npz of input arrays (default: generated, seed 0)")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    add_timeout_option(parser)
    add_format_option(parser)


def run_convert(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if Path(args.model).resolve() == output.resolve():
        raise InputError(f"{output}: the output would overwrite the input model")
    emit_options = {"optimization": args.optimization} if args.optimization else {}
    if args.nhwc_io:
        if args.target != "tflite":
            raise InputError("--nhwc-io is an option of the tflite target")
        emit_options["nhwc_io"] = True
    if args.allow_flex:
        if args.target != "tflite":
            raise InputError("--allow-flex is an option of the tflite target")
        emit_options["allow_flex"] = True
    inputs = _inputs(args, args.model)
    with progress(f"converting {args.model} to {args.target}"):
        artifact = graphkit.convert(
            args.model, args.target, output, fix=not args.no_fix, inputs=inputs,
            rtol=args.rtol, atol=args.atol, timeout=args.timeout, **emit_options,
        )
    if args.format == "json":
        print_json(artifact.to_json())
    else:
        _print_diffs(artifact.validation, f"wrote {artifact.path} ({args.target})")
        for note in artifact.metadata.get("notes", []):
            console().print(f"note: {escape(note)}")
    return 0 if artifact.validated else 1


def run_validate(args: argparse.Namespace) -> int:
    inputs = _inputs(args, args.reference)
    with progress(f"validating {args.artifact}"):
        diffs = graphkit.validate(args.artifact, args.reference, inputs=inputs,
                                  rtol=args.rtol, atol=args.atol, timeout=args.timeout)
    ok = bool(diffs) and all(diff.ok for diff in diffs)
    if args.format == "json":
        print_json({"artifact": args.artifact, "reference": args.reference, "ok": ok,
                    "outputs": [diff.to_json() for diff in diffs]})
    else:
        _print_diffs(diffs, f"{args.artifact} against {args.reference}")
    return 0 if ok else 1


def _inputs(args: argparse.Namespace, model_path: str):
    if not args.inputs:
        return None
    return load_npz_inputs(args.inputs, graphkit.load(model_path))


def _print_diffs(diffs, title: str) -> None:
    out = console()
    out.print(escape(title))
    table = Table("output", "max abs", "max rel", "", box=None)
    for diff in diffs:
        verdict = "[green]ok[/]" if diff.ok else f"[red]MISMATCH[/] {escape(diff.reason)}"
        table.add_row(escape(diff.name), f"{diff.max_abs:.3g}", f"{diff.max_rel:.3g}", verdict)
    out.print(table)
