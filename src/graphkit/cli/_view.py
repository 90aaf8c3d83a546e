"""graphkit view: the model in Netron with each node's findings, or an HTML report."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from graphkit.cli._common import console, progress

EXAMPLES = """examples:
  graphkit view model.onnx --target tflite             # Netron, findings in each node's panel
  graphkit view model.onnx -t tflite -t tensorrt --html report.html
  graphkit view model.onnx -t tensorrt -o annotated.onnx --no-serve   # the annotated model only

exit codes: 0 the view was written or served (the verdict is in it), 2 bad input
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "view", help="see the findings on the graph: Netron, or an HTML report",
        description="Diagnose the model and show each node's findings where you look at the "
                    "graph: written into the nodes' documentation strings and served in "
                    "Netron (the optional netron package), or as a self-contained HTML "
                    "report whose findings link to the table of nodes.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="ONNX, TFLite, Keras file or SavedModel folder")
    parser.add_argument("--target", "-t", action="append", dest="targets", metavar="T",
                        help="target whose findings to show (repeatable; default: ort)")
    parser.add_argument("--html", metavar="FILE", help="write the HTML report here instead")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="keep the annotated model here (.onnx; default: a temporary file)")
    parser.add_argument("--no-serve", action="store_true",
                        help="do not start Netron (with -o: only write the annotated model)")
    parser.add_argument("--no-browser", action="store_true",
                        help="serve Netron but print its address instead of opening a browser")
    parser.add_argument("--port", type=int, help="Netron's port (default: a free one)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: `graphkit --help` must not pay for onnx (the CLI's start-up budget).
    from graphkit._output import check_output_path, staged_file
    from graphkit.backends import get_target
    from graphkit.diagnose import diagnose_targets
    from graphkit.frontends import load
    from graphkit.ir import save_onnx
    from graphkit.view import annotate, render_html, serve_in_netron

    names = list(dict.fromkeys(args.targets or ["ort"]))
    targets = [get_target(name) for name in names]
    html_path = check_output_path(args.html, (".html", ".htm"), "the report") if args.html \
        else None
    out_path = check_output_path(args.output, (".onnx",), "the annotated model") \
        if args.output else None
    with progress(f"diagnosing {args.model}"):
        model = load(args.model)
        diagnoses = diagnose_targets(model, targets, min_opset=False)
    out = console()
    if html_path is not None:
        with staged_file(html_path) as staged:
            Path(staged).write_text(render_html(model, diagnoses, f"{args.model}: graphkit"),
                                    encoding="utf-8")
        out.print(f"wrote {html_path}")
        return 0
    annotated = annotate(model, diagnoses)
    path = out_path or Path(tempfile.mkdtemp(prefix="graphkit-view-")) / "annotated.onnx"
    save_onnx(model, path)
    out.print(f"{annotated} node(s) carry findings in their documentation; model at {path}")
    if args.no_serve:
        return 0
    address = serve_in_netron(path, browse=not args.no_browser, port=args.port)
    out.print(f"Netron serves it at {address} (Ctrl-C to stop)")
    _wait_for_interrupt()
    return 0


def _wait_for_interrupt() -> None:
    import netron

    try:
        netron.wait()
    except KeyboardInterrupt:
        netron.stop()
