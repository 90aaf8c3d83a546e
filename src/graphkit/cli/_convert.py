"""graphkit convert / graphkit validate: emit an artifact and prove it against the reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

import graphkit
from graphkit._defaults import DEFAULT_ATOL, DEFAULT_RTOL
from graphkit.backends import emitter_names
from graphkit.backends.ort import LEVELS as ORT_LEVELS
from graphkit.cli._common import (
    add_format_option,
    add_timeout_option,
    console,
    print_json,
    progress,
)
from graphkit.cli._tensorrt import add_engine_options, engine_options, inputs_at_opt
from graphkit.errors import InputError

CONVERT_EXAMPLES = """examples:
  graphkit convert model.onnx --to ort -o model.opt.onnx
  graphkit convert model.onnx --to ort -o model.ort          # ORT format + reduced-build config
  graphkit convert model.onnx --to torchscript -o model.pt --inputs sample.npz
  graphkit convert model.onnx --to ort -o out.onnx --no-fix --format json
  graphkit convert model.onnx --to tensorrt -o model.engine --precision fp16 \
      --shapes input=1x3x224x224:8x3x224x224:32x3x224x224

exit codes: 0 artifact written and matches the reference, 1 it does not match (it is
            written, to inspect) or, for tensorrt, no engine was built here (no TensorRT
            or GPU: model.trt.onnx, model.profile.json and build_engine.sh are written,
            nothing is validated), 2 bad input or the model cannot be converted (nothing
            is written; a file already at the output stays as it was)
"""

VALIDATE_EXAMPLES = """examples:
  graphkit validate model.pt --reference model.onnx
  graphkit validate model.ort --reference model.onnx --inputs sample.npz --atol 1e-5
  graphkit validate model.tflite --reference model.onnx --layerwise   # name the node that drifts
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
    add_engine_options(convert)
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
    validate.add_argument("--layerwise", action="store_true",
                          help="compare every intermediate value too, and name the first node "
                               "that drifts (as `graphkit compare`)")
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
    engine_emit, fix_options = engine_options(args)
    emit_options.update(engine_emit)
    inputs = _inputs(args, args.model) if args.inputs else inputs_at_opt(args.model, args.shapes)
    with progress(f"converting {args.model} to {args.target}"):
        artifact = graphkit.convert(
            args.model, args.target, output, fix=not args.no_fix, inputs=inputs,
            rtol=args.rtol, atol=args.atol, timeout=args.timeout, fix_options=fix_options,
            **emit_options,
        )
    if args.format == "json":
        print_json(artifact.to_json())
    else:
        title = f"wrote {artifact.path} ({args.target})"
        if artifact.validation:
            _print_diffs(artifact.validation, title)
        else:
            console().print(escape(title))
        for note in artifact.metadata.get("notes", []):
            console().print(f"note: {escape(note)}")
        _print_warnings(artifact.metadata.get("warnings", []))
        if not artifact.validation:
            console().print("[yellow]not validated[/]: nothing was run against the reference")
    return 0 if artifact.validated else 1


def run_validate(args: argparse.Namespace) -> int:
    if args.layerwise:
        from graphkit.cli._compare import run_layerwise

        return run_layerwise(args.reference, args.artifact, args)
    inputs = _inputs(args, args.reference)
    warnings: list[str] = []
    with progress(f"validating {args.artifact}"):
        diffs = graphkit.validate(args.artifact, args.reference, inputs=inputs, rtol=args.rtol,
                                  atol=args.atol, timeout=args.timeout, warnings=warnings)
    ok = bool(diffs) and all(diff.ok for diff in diffs)
    if args.format == "json":
        print_json({"artifact": args.artifact, "reference": args.reference, "ok": ok,
                    "outputs": [diff.to_json() for diff in diffs], "warnings": warnings})
    else:
        _print_diffs(diffs, f"{args.artifact} against {args.reference}")
        _print_warnings(warnings)
    return 0 if ok else 1


def _inputs(args: argparse.Namespace, model_path: str):
    from graphkit._generated_inputs import load_npz_inputs

    if not args.inputs:
        return None
    return load_npz_inputs(args.inputs, graphkit.load(model_path))


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:  # a warning, not a failure: the exit code stays 0
        console().print(f"[yellow]warning[/]: {escape(warning)}")


def _print_diffs(diffs, title: str) -> None:
    out = console()
    out.print(escape(title))
    table = Table("output", "max abs", "max rel", "", box=None)
    for diff in diffs:
        verdict = "[green]ok[/]" if diff.ok else f"[red]MISMATCH[/] {escape(diff.reason)}"
        table.add_row(escape(diff.name), f"{diff.max_abs:.3g}", f"{diff.max_rel:.3g}", verdict)
    out.print(table)
