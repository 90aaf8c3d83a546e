"""graphkit inspect: what is in a model."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

import graphkit
from graphkit.cli._common import add_format_option, console, print_json, progress

EXAMPLES = """examples:
  graphkit inspect model.onnx
  graphkit inspect model.tflite --format json
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect", help="op histogram, opsets, inputs/outputs, parameters",
        description="Show what a model holds: ops, opsets, interface, parameters.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="ONNX, TFLite, Keras (.keras/.h5) file or SavedModel folder")
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from graphkit.summary import summarize

    with progress(f"loading {args.model}"):
        model = graphkit.load(args.model)
    info = summarize(model)
    if args.format == "json":
        print_json(info)
    else:
        _print_text(info)
    return 0


def _shape(shape) -> str:
    if shape is None:
        return "?"
    # Escaped: rich would read "[batch, 3]" as a markup tag.
    return escape("[" + ", ".join("?" if d is None else str(d) for d in shape) + "]")


def _print_text(info: dict) -> None:
    out = console()
    opsets = ", ".join(f"{d} {v}" for d, v in info["opsets"].items())
    params = info["parameters"]
    out.print(f"[bold]{info['name'] or 'model'}[/]  {info['nodes']} nodes, opsets: {opsets}")
    out.print(f"parameters: {params['count']:,} in {params['tensors']} tensors "
              f"({params['bytes'] / 2**20:.2f} MiB); subgraphs: {info['subgraphs']}; "
              f"functions: {len(info['functions'])}")
    # One line per value, not a table: names and dims are what users type after --pin and
    # --inputs, so no column may cut them at any terminal width (a long line wraps whole).
    width = max((len(v["name"]) for kind in ("inputs", "outputs") for v in info[kind]), default=0)
    for kind in ("inputs", "outputs"):
        for value in info[kind]:
            name = escape(value["name"].ljust(min(width, 40)))
            out.print(f"{kind[:-1]:<6}  {name}  {value['dtype']}  {_shape(value['shape'])}")
    ops = Table("op", "count", box=None)
    for op, count in info["ops"].items():
        ops.add_row(escape(op), str(count))
    out.print(ops)
