"""The pipeline pieces every backend's pipeline.py builds on, TVM-style.

Each backend's `pipeline(opset)` returns pass names (joined into the same pipeline string
the CLI takes); `fix` runs it after the passes that legalize the model. Fusions are named
by rule (passes/fuse.py); a rule whose op the model's opset lacks is dropped here, so a
pipeline never asks for an op the model cannot hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphkit.passes.fuse import fusion_named


def cleanup() -> list[str]:
    return [
        "eliminate-identity",
        "lift-constants",
        "eliminate-common-subexpressions",
        "fold-constants",
        "fold-shapes",  # shape inference + folding, repeated while it changes something
        "remove-redundant-casts",
        "eliminate-common-subexpressions",
        "remove-dead-nodes",
    ]


def portable(opset: int) -> list[str]:
    # Targets whose op lists we do not read here: only fusions that write ops every
    # runtime has (Conv, Transpose, Reshape).
    rules = ("neutral", "pad-conv", "conv-bn", "conv-scale", "transposes", "reshapes")
    return cleanup() + fuse(rules, opset) + ["remove-dead-nodes"]


def pipeline(opset: int) -> list[str]:
    """What `fix` runs for a target without a pipeline.py of its own."""
    return portable(opset)


def fuse(rules: Sequence[str], opset: int) -> list[str]:
    usable = [rule for rule in rules if fusion_named(rule).min_opset <= opset]
    return [f"fuse{{rules={'+'.join(usable)}}}"] if usable else []
