"""graphkit fix: rewrite a model until a target accepts it, and prove the outputs did not change."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import graphkit
from graphkit._output import check_output_path
from graphkit.cli._common import (
    add_format_option,
    add_timeout_option,
    console,
    print_json,
    progress,
)
from graphkit.cli._tensorrt import add_precision_option, with_precision
from graphkit.errors import InputError

EXAMPLES = """examples:
  graphkit fix model.onnx --target ort -o model.fixed.onnx
  graphkit fix model.onnx --target tensorrt -o trt.onnx --pin batch=1 --pin seq=128
  graphkit fix model.onnx --target tflite -o out.onnx --pin x=1x3x224x224 --legalize-only
  graphkit fix detector.onnx --target tensorrt -o out.onnx --nms plugin --inputs data.npz
  graphkit fix model.onnx --target tensorrt -o half.onnx --precision fp16
  graphkit fix model.onnx --target ort -o out.onnx --format json | jq .unresolved

exit codes: 0 no blocker left, 1 blockers remain (each listed with why), 2 bad input
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "fix", help="apply the rewrites that make a model run on a target, proven numerically",
        description="Diagnose, apply the passes that resolve each finding, repeat until nothing "
                    "blocks; validate the result against the original model's outputs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="ONNX, TFLite, Keras (.keras/.h5) file or SavedModel folder")
    parser.add_argument("--target", "-t", default="ort", help="target to fix for (default: ort)")
    parser.add_argument("-o", "--output", required=True, help="where to write the fixed .onnx")
    parser.add_argument("--pin", action="append", default=[], metavar="NAME=DIMS",
                        help="static shape for an input (x=1x3x224x224) or a named dim "
                             "(batch=1); only the dims named are fixed, unless the target "
                             "needs the rest static (then: their recorded export sizes)")
    parser.add_argument("--nms", choices=("keep", "native", "plugin", "cut"),
                        help="what to do with NonMaxSuppression")
    parser.add_argument("--legalize-only", action="store_true",
                        help="only the passes findings ask for; skip cleanup and fusion")
    parser.add_argument("--inputs", metavar="DATA.npz", help="inputs to validate with")
    parser.add_argument("--passes", default="", metavar="PIPELINE",
                        help="passes to run as well, proven like the rest: 'float16' "
                             "(float32 -> float16, sensitive ops kept float32), "
                             "'fuse{rules=conv-bn}', ...")
    add_precision_option(parser)
    add_timeout_option(parser)
    add_format_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from graphkit._generated_inputs import load_npz_inputs
    from graphkit.passmanager import count_nodes

    _refuse_overwrite(args.model, args.output)
    with progress(f"loading {args.model}"):
        model = graphkit.load(args.model)
    inputs = load_npz_inputs(args.inputs, model) if args.inputs else None
    nodes_before = count_nodes(model)
    with progress(f"fixing for {args.target}"):
        fixed, report = graphkit.fix(model, args.target, pin=args.pin, nms=args.nms,
                                     legalize_only=args.legalize_only, inputs=inputs,
                                     passes=with_precision(args.passes, args.target,
                                                           args.precision),
                                     timeout=args.timeout)
    graphkit.save(fixed, args.output)
    post_paths = _save_post_models(report.post_models, args.model, args.output)
    if args.format == "json":
        print_json({**report.to_json(), "output": args.output, "post_models": post_paths,
                    "nodes_before": nodes_before, "nodes_after": count_nodes(fixed)})
    else:
        _print_text(report, args.output, nodes_before, count_nodes(fixed))
        _print_post(post_paths, report.post_models)
    return 0 if report.fixed and (not report.validation or report.validated) else 1


def post_model_paths(output: str, count: int) -> list[Path]:
    """`<stem>.post.onnx` beside the output; more than one: `.post2.onnx`, `.post3.onnx`, ..."""
    out = Path(output)
    return [out.with_name(f"{out.stem}.post{index if index > 1 else ''}.onnx")
            for index in range(1, count + 1)]


def _save_post_models(post_models, source: str, output: str) -> list[str]:
    paths = post_model_paths(output, len(post_models))
    for path in paths:
        _refuse_overwrite(source, str(path))
    for post, path in zip(post_models, paths, strict=True):
        graphkit.save(post, path)  # atomic, like the main model
    return [str(path) for path in paths]


def _print_post(paths: list[str], post_models) -> None:
    out = console()
    for path, post in zip(paths, post_models, strict=True):
        reads = ", ".join(value.name for value in post.graph.inputs)
        out.print(f"post-processing model written to {path}: run it on the main model's outputs "
                  f"({reads}) to get the original outputs")


def _refuse_overwrite(source: str, output: str) -> None:
    out = Path(output)
    if out.exists() and Path(source).exists() and os.path.samefile(source, out):
        raise InputError(f"{output}: is the input model; graphkit never overwrites its input "
                         "(choose another -o)")
    check_output_path(out, (".onnx",), "the fixed model")  # before any work


def _print_text(report, output: str, nodes_before: int, nodes_after: int) -> None:
    out = console()
    out.print(f"[bold]{report.model}[/] for {report.target}: {nodes_before} -> {nodes_after} "
              f"nodes in {report.rounds} round(s), written to {output}")
    shown = [record for record in report.passes if record.modified or record.rolled_back]
    if shown:
        # One line per pass, then what it changed on the next: a column for the changes
        # would leave them a quarter of an 80-column terminal, cut into pieces.
        width = max(len(record.name) for record in shown)
        for record in shown:
            nodes = f"{record.nodes_before} -> {record.nodes_after}"
            out.print(f"  {record.name:<{width}}  {nodes:>10} nodes  {record.seconds:.3f} s")
            what = "[red]ROLLED BACK[/]" if record.rolled_back else "; ".join(record.changes[:3])
            more = f" (+{len(record.changes) - 3} more)" if len(record.changes) > 3 else ""
            if what:
                out.print(f"      {what}{more}", markup=record.rolled_back)
    else:
        ran = len({record.name for record in report.passes})
        out.print(f"no pass changed the model ({ran} tried)" if ran else "no pass was needed")
    for finding, why in report.unresolved:
        out.print(f"[red]blocker[/] {finding.code} {finding.slug} at {finding.node or 'model'}: "
                  f"{finding.message} — {why}")
    for diff in report.before_replacement:
        out.print(f"before the nms rewrite, output {diff.name}: max abs {diff.max_abs:.3g} vs the "
                  f"original {_mark(diff)}")
    against = "the original" if report.reference == "original" else report.reference
    for diff in report.validation:
        out.print(f"output {diff.name}: max abs {diff.max_abs:.3g}, max rel {diff.max_rel:.3g} "
                  f"vs {against} {_mark(diff)}")
    if report.post_models and report.validation:
        out.print("(outputs of the main model followed by its post-processing model)")
    if report.validation and report.runtime == "onnx-reference":
        out.print("[yellow]note[/]: the proof ran on onnx's reference evaluator, since ONNX "
                  "Runtime does not run this model (`graphkit diagnose --target ort` says why)")
    if report.validation:
        out.print(f"fix took {report.seconds:.2f} s, of which the proof "
                  f"{report.proof_seconds:.2f} s ({_share(report)})")
    if not report.validation:
        why = report.reference if report.reference != "original" else \
            "the original model could not be run on generated inputs"
        out.print(f"[yellow]not validated[/]: {why}")


def _share(report) -> str:
    return f"{100 * report.proof_seconds / report.seconds:.0f}%" if report.seconds else "-"


def _mark(diff) -> str:
    return "[green]ok[/]" if diff.ok else "[red]MISMATCH[/]"
