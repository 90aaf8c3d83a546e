"""The TensorRT options of diagnose, fix and convert: --precision, --shapes, --workspace,
--timing-cache. Kept here so that each command's module only adds and reads them.

TensorRT 11 networks are strongly typed: `--precision fp16` is graphkit's float16 rewrite
(keep-io, numerically sensitive ops in float32), run by fix and proven against the float32
model like every rewrite; the engine then takes its precision from the graph's types.
"""

from __future__ import annotations

import argparse
from typing import Any

from graphkit.errors import InputError

FLOAT16_PASS = "float16"


def is_tensorrt(name: str) -> bool:
    return name == "tensorrt" or name.startswith("tensorrt@")


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=("fp32", "fp16"),
                        help="tensorrt: the engine's precision; TensorRT 11 is strongly typed, "
                             "so fp16 runs graphkit's float16 rewrite (proven) on the graph")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """convert --to tensorrt: the optimization profile and the builder's settings."""
    add_precision_option(parser)
    parser.add_argument("--shapes", action="append", default=[], metavar="NAME=MIN:OPT:MAX",
                        help="tensorrt: an input's profile, e.g. x=1x3x224x224:8x3x224x224:"
                             "32x3x224x224 (or one shape for all three); repeatable")
    parser.add_argument("--workspace", type=int, metavar="MIB",
                        help="tensorrt: the builder's workspace limit in MiB")
    parser.add_argument("--timing-cache", metavar="FILE",
                        help="tensorrt: timing cache read before and written after the build")


def with_precision(passes: str, target: str, precision: str | None) -> str:
    """fix's --passes with the float16 rewrite added when --precision fp16 asks for it."""
    if precision is None:
        return passes
    if not is_tensorrt(target):
        raise InputError(f"--precision is an option of the tensorrt targets (for {target}, "
                         "use --passes float16)")
    if precision == "fp32" or FLOAT16_PASS in passes.split(","):
        return passes
    return f"{passes},{FLOAT16_PASS}" if passes else FLOAT16_PASS


def engine_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """convert's (emit options, fix options) for the TensorRT flags given; a flag given for
    another target is a usage error."""
    given = [flag for flag, value in (("--shapes", args.shapes), ("--workspace", args.workspace),
                                      ("--timing-cache", args.timing_cache),
                                      ("--precision", args.precision)) if value]
    if not is_tensorrt(args.target):
        if given:
            raise InputError(f"{given[0]} is an option of the tensorrt target")
        return {}, {}
    if args.no_fix and args.precision == "fp16":
        raise InputError("--precision fp16 is a rewrite of the graph: it needs the fix "
                         "(drop --no-fix)")
    emit: dict[str, Any] = {"shapes": tuple(args.shapes)}
    if args.workspace is not None:
        emit["workspace_mib"] = args.workspace
    if args.timing_cache:
        emit["timing_cache"] = args.timing_cache
    passes = with_precision("", args.target, args.precision)
    if args.precision == "fp16":
        _widen_to_float16_tolerance(args)
    return emit, ({"passes": passes} if passes else {})


def _widen_to_float16_tolerance(args: argparse.Namespace) -> None:
    """An FP16 engine is checked against the float32 model within the tolerance the float16
    rewrite declares (and is proven with), unless the user chose --rtol/--atol."""
    from graphkit._defaults import DEFAULT_ATOL, DEFAULT_RTOL
    from graphkit.passes.float16 import Float16

    if args.rtol == DEFAULT_RTOL and args.atol == DEFAULT_ATOL:
        args.rtol, args.atol = Float16.rtol, Float16.atol


def targets_with_precision(names: list[str], precision: str | None) -> list[Any]:
    """The targets diagnose checks; with --precision, the tensorrt ones know what the user
    wants (a float32 graph asked for in fp16 is then a warning with the float16 fix)."""
    from graphkit.backends import get_target

    targets = [get_target(name) for name in names]  # an unknown name fails here (exit 2)
    if precision is None:
        return targets
    if not any(is_tensorrt(name) for name in names):
        raise InputError("--precision is an option of the tensorrt targets")
    from graphkit.backends.tensorrt.target import TensorRTTarget

    return [TensorRTTarget(t.version, precision) if is_tensorrt(t.name) else t for t in targets]


def inputs_at_opt(model_path: str, shapes: list[str]) -> Any:
    """Validation inputs at the profile's opt shapes (the ones graphkit would generate, with
    each --shapes input at its OPT), so that the proof and the engine run inside the profile."""
    if not shapes:
        return None
    import graphkit
    from graphkit._generated_inputs import make_inputs
    from graphkit.backends.tensorrt.profiles import parse_shapes
    from graphkit.validation import ModelRunner, choose_input_shapes

    model = graphkit.load(model_path)
    profiles = parse_shapes(shapes, model)
    chosen = dict(choose_input_shapes(model, ModelRunner(model)).shapes)
    chosen.update({name: profile.opt for name, profile in profiles.items()})
    return make_inputs(model, chosen)
