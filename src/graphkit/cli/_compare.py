"""graphkit compare: the first node whose output drifts, between a model and its artifact."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from graphkit.cli._common import (
    add_format_option,
    add_timeout_option,
    console,
    print_json,
    progress,
)

EXAMPLES = """examples:
  graphkit compare model.onnx model.tflite
  graphkit compare model.onnx model.pt --inputs sample.npz --atol 1e-5
  graphkit compare model.onnx model.opt.onnx --format json | jq .first_drift
  graphkit validate model.tflite --reference model.onnx --layerwise   # the same

Every node output of MODEL (run on ONNX Runtime) is compared with the value of the same
name in ARTIFACT: .onnx (every value), .tflite (every tensor LiteRT keeps), .pt written by
graphkit (every value the emitter recorded), .ort (outputs only).

exit codes: 0 every compared value within tolerance, 1 a value drifts (the first node is
            named, with the error along its path to an output), 2 bad input or usage
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="find the first node whose output drifts in an artifact",
        description="Run MODEL and ARTIFACT on the same inputs with every intermediate value "
                    "exposed, match values by name, and report the first node (topological "
                    "order) whose output is beyond tolerance.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="the reference: ONNX/TFLite/Keras file or SavedModel folder")
    parser.add_argument("artifact", help=".onnx, .ort, .pt or .tflite file made from it")
    add_compare_options(parser)
    parser.set_defaults(run=run)


def add_compare_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inputs", help=".npz of input arrays (default: generated, seed 0)")
    add_tolerance_options(parser)
    add_timeout_option(parser)
    add_format_option(parser)


def add_tolerance_options(parser: argparse.ArgumentParser) -> None:
    # Defaults resolved when the command runs (tolerances()): building the parser must not
    # import graphkit.validation, which every `graphkit` start would pay for.
    parser.add_argument("--rtol", type=float, help="relative tolerance (default: 1e-3)")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default: 1e-4)")


def tolerances(args: argparse.Namespace) -> tuple[float, float]:
    from graphkit._defaults import DEFAULT_ATOL, DEFAULT_RTOL

    rtol = DEFAULT_RTOL if args.rtol is None else args.rtol
    return rtol, DEFAULT_ATOL if args.atol is None else args.atol


def run(args: argparse.Namespace) -> int:
    return run_layerwise(args.model, args.artifact, args)


def run_layerwise(model: str, artifact: str, args: argparse.Namespace) -> int:
    """compare MODEL ARTIFACT, and validate ARTIFACT --reference MODEL --layerwise."""
    import graphkit
    from graphkit._generated_inputs import load_npz_inputs
    from graphkit.layerwise import compare

    inputs = load_npz_inputs(args.inputs, graphkit.load(model)) if args.inputs else None
    rtol, atol = tolerances(args)
    with progress(f"comparing {artifact} with {model}, value by value"):
        result = compare(model, artifact, inputs=inputs, rtol=rtol, atol=atol,
                         timeout=args.timeout)
    if args.format == "json":
        print_json(result.to_json())
    else:
        render(result)
    return 0 if result.ok else 1


def render(result) -> None:
    out = console()
    out.print(f"{escape(result.artifact)} against {escape(result.model)}: "
              f"{len(result.values)} values compared by name, {len(result.unmatched)} not "
              f"exposed by the artifact (rtol {result.rtol:g}, atol {result.atol:g})")
    if result.note:
        out.print(f"note: {escape(result.note)}")
    first = result.first
    if first is None:
        out.print("[green]no drift[/]: every compared value is within tolerance")
        return
    out.print(f"[red]first drift[/]: node '{escape(first.node)}' ({first.op}), output "
              f"'{escape(first.value)}': max abs {first.max_abs:.3g}, max rel "
              f"{first.max_rel:.3g}{' (' + escape(first.reason) + ')' if first.reason else ''}")
    for drift in result.inputs_of_first:
        out.print(f"  its input '{escape(drift.value)}' is within tolerance "
                  f"(max abs {drift.max_abs:.3g})")
    if result.unmatched_upstream:
        names = ", ".join(f"'{escape(n)}'" for n in result.unmatched_upstream[:5])
        out.print(f"  not compared above it (the drift may start there): {names}")
    table = Table("node", "op", "value", "max abs", "max rel", box=None,
                  title="error along the path to an output", title_justify="left")
    for drift in result.path:
        table.add_row(escape(drift.node), drift.op, escape(drift.value), f"{drift.max_abs:.3g}",
                      f"{drift.max_rel:.3g}")
    out.print(table)
