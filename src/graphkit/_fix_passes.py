"""Which passes fix runs: one per distinct fix its findings name, built with the options
fix was given (the user's pins, the NMS form, the target's opset range), plus the target's
cleanup pipeline and the user's own `--passes`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import onnx_ir as ir

from graphkit.backends import nms_form, pipeline_for
from graphkit.errors import InputError
from graphkit.findings import Finding
from graphkit.passes import build_pipeline, pass_registry
from graphkit.passmanager import Pass, Request, parse_pipeline

if TYPE_CHECKING:
    from graphkit.fixing import FixOptions


def choose_passes(findings: Sequence[Finding], target, model: ir.Model, options: FixOptions,
                  tried: set[str], static_ok: bool = True) -> list[Pass]:
    """One pass per distinct fix the findings name, with the options fix was given.

    pin-shapes becomes `pin-shapes{static=true}` where the target needs static shapes (and
    `static_ok`): the dims the pins leave dynamic take their recorded export sizes."""
    registry = pass_registry()
    by_code = {code: name for name, cls in registry.items() for code in cls.fixes}
    static = static_ok and _needs_static(findings)
    specs: list[str] = []
    for finding in findings:
        # fix "" says no pass fixes this finding; None, that the code's own pass does
        spec = finding.fix if finding.fix is not None else by_code.get(finding.code)
        if spec == "pin-shapes" and static:
            spec = "pin-shapes{static=true}"
        if spec and spec not in specs and spec not in tried:
            specs.append(spec)
    if options.nms not in (None, "keep") and "nms" not in specs + list(tried) \
            and _has_nms(model):
        specs.append("nms")  # the form the user asked for, even where the target lowers NMS
    tried.update(specs)
    return [build_pass(spec, registry, target, model, options) for spec in specs]


def build_pass(spec_text: str, registry, target, model: ir.Model, options: FixOptions) -> Pass:
    """The pass a finding names, as it configures itself for the target (Pass.for_target)."""
    [spec] = parse_pipeline(spec_text)
    if spec.name not in registry:
        raise InputError(f"finding names fix '{spec.name}', which is not a known pass")
    request = Request(pin=options.pin, nms=options.nms or nms_form(target.name))
    return registry[spec.name].for_target(target, model, spec.options, request)


def target_pipeline(target: str, model: ir.Model) -> list[Pass]:
    return build_pipeline(pipeline_for(target, model.opset_imports.get("", 1)))


def extra_passes(options: FixOptions) -> list[Pass]:
    try:
        return build_pipeline(options.passes) if options.passes else []
    except ValueError as err:
        raise InputError(f"--passes: {err}") from None


def _has_nms(model: ir.Model) -> bool:
    return any(node.op_type == "NonMaxSuppression"
               for node in ir.traversal.RecursiveGraphIterator(model.graph))


def _needs_static(findings: Sequence[Finding]) -> bool:
    """The target asks for static shapes (GK301; GK108 where an EP would take the node if it
    were static), not merely for folding a Shape subgraph (GK304)."""
    return any(f.fix == "pin-shapes" and f.code in ("GK301", "GK108") for f in findings)
