"""graphkit export: write the ONNX graphkit works on, once, so later commands skip the export."""

from __future__ import annotations

import argparse

from rich.markup import escape

from graphkit.cli._common import add_format_option, console, print_json, progress

EXAMPLES = """examples:
  graphkit export model.keras -o model.onnx          # Keras, through tf2onnx once
  graphkit export saved_model_dir -o model.onnx      # a TensorFlow SavedModel folder
  graphkit export model.tflite -o model.onnx
  graphkit export model.pt2 -o model.onnx            # torch.export.save, read without unpickling
  graphkit diagnose model.onnx --target tflite       # later commands start from the ONNX

The ONNX keeps where it came from and the example input shapes in its metadata.

exit codes: 0 written, 2 bad input or usage (nothing is written; a file already at the
            output stays as it was)
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write the ONNX graphkit works on (Keras, SavedModel, TFLite, .pt2)",
        description="Load MODEL through graphkit's frontends and write the ONNX model every "
                    "other command would work on, atomically.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help=".keras/.h5, SavedModel folder, .tflite, .pt2 or .onnx")
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from graphkit.export import export
    from graphkit.frontends._provenance import read_provenance

    with progress(f"exporting {args.model}"):
        model, path = export(args.model, args.output)
    inputs = [value.name for value in model.graph.inputs]
    outputs = [value.name for value in model.graph.outputs]
    if args.format == "json":
        print_json({"model": args.model, "output": str(path), "inputs": inputs,
                    "outputs": outputs, "nodes": len(model.graph),
                    "provenance": read_provenance(model)})
        return 0
    console().print(f"wrote {escape(str(path))}: {len(model.graph)} nodes, inputs "
                    f"{escape(', '.join(inputs))}, outputs {escape(', '.join(outputs))}")
    return 0
