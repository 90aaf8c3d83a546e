"""Every analysis and rewrite pass graphkit ships, in one explicit table.

Plugins add passes through the `graphkit.passes` entry point group; a plugin may not
replace a built-in pass of the same name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from graphkit.passes.adapt_input_dtypes import AdaptInputDtypes
from graphkit.passes.convert_layout import ConvertLayout
from graphkit.passes.convert_opset import ConvertOpset
from graphkit.passes.decompose import Decompose
from graphkit.passes.eliminate_common_subexpressions import EliminateCommonSubexpressions
from graphkit.passes.eliminate_identity import EliminateIdentity
from graphkit.passes.float16 import Float16
from graphkit.passes.float64_to_float32 import Float64ToFloat32
from graphkit.passes.fold_constants import FoldConstants
from graphkit.passes.fold_initializer_inputs import FoldInitializerInputs
from graphkit.passes.fold_shapes import FoldShapes
from graphkit.passes.fuse import Fuse
from graphkit.passes.int64_to_int32 import Int64ToInt32
from graphkit.passes.lift_constants import LiftConstants
from graphkit.passes.nms import Nms
from graphkit.passes.outline_gelu import OutlineGelu
from graphkit.passes.pin_shapes import PinShapes
from graphkit.passes.remove_dead_nodes import RemoveDeadNodes
from graphkit.passes.remove_redundant_casts import RemoveRedundantCasts
from graphkit.passmanager import Pass, instantiate, parse_pipeline

BUILTIN_PASSES: tuple[type[Pass], ...] = (
    AdaptInputDtypes,
    ConvertLayout,
    ConvertOpset,
    Decompose,
    EliminateCommonSubexpressions,
    EliminateIdentity,
    Float16,
    Float64ToFloat32,
    FoldConstants,
    FoldInitializerInputs,
    FoldShapes,
    Fuse,
    Int64ToInt32,
    LiftConstants,
    Nms,
    OutlineGelu,
    PinShapes,
    RemoveDeadNodes,
    RemoveRedundantCasts,
)

# The cleanup every pipeline ends with.
CLEANUP = "eliminate-identity,fold-constants,remove-dead-nodes"


def pass_registry() -> dict[str, type[Pass]]:
    """Name -> pass class: the built-ins, then plugins from entry points."""
    registry = {cls.name: cls for cls in BUILTIN_PASSES}
    for entry in _plugin_points():
        cls = entry.load()
        if entry.name in registry:
            raise ValueError(f"plugin pass '{entry.name}' clashes with a built-in pass")
        registry[entry.name] = cls
    return registry


@functools.cache
def _plugin_points() -> tuple[EntryPoint, ...]:
    """Read once: finding entry points scans every installed distribution's metadata (about
    0.06 s a call, and fix asks several times), and what is installed does not change while
    graphkit runs."""
    return tuple(entry_points(group="graphkit.passes"))


def build_pipeline(text: str, registry: Mapping[str, type[Pass]] | None = None) -> list[Pass]:
    """The passes a pipeline string names ("fold-constants,fuse{rules=conv-bn}"), each built
    from its options; `registry`: name -> pass class (default: pass_registry())."""
    registry = registry if registry is not None else pass_registry()
    passes = []
    for spec in parse_pipeline(text):
        if spec.name not in registry:
            known = ", ".join(sorted(registry))
            raise ValueError(f"unknown pass '{spec.name}'; known passes: {known}")
        passes.append(instantiate(registry[spec.name], spec.options))
    return passes
