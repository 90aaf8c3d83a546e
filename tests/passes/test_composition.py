"""No pass runs another by hand: a pass that needs others composes them as a Pipeline, so
the manager's contract checks and shape bookkeeping cover the nested passes too."""

from __future__ import annotations

import ast
from pathlib import Path

PASSES = Path(__file__).resolve().parents[2] / "passes"


def pass_classes(trees: list[ast.Module]) -> set[str]:
    """The classes the passes package defines on Pass (or Pipeline)."""
    return {node.name for tree in trees for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(isinstance(base, ast.Name) and base.id in ("Pass", "Pipeline")
                    for base in node.bases)}


def runs_by_hand(tree: ast.Module, classes: set[str]) -> list[str]:
    """`SomePass(...).run(...)` calls: a pass built and run on the spot."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run", "steps")):
            continue
        made = node.func.value
        if isinstance(made, ast.Call) and isinstance(made.func, ast.Name) \
                and made.func.id in classes:
            found.append(f"line {node.lineno}: {made.func.id}(...).{node.func.attr}")
    return found


def test_no_pass_runs_another_by_hand():
    trees = {path.name: ast.parse(path.read_text(), str(path)) for path in PASSES.glob("*.py")}
    classes = pass_classes(list(trees.values()))
    assert {"FoldShapes", "Decompose", "PinShapes"} <= classes
    found = {name: runs for name, tree in trees.items() if (runs := runs_by_hand(tree, classes))}
    assert not found, f"compose these with passmanager.Pipeline instead: {found}"


def test_the_reader_finds_a_pass_run_by_hand():
    tree = ast.parse("class FoldShapes(Pass):\n    pass\n\n\n"
                     "def run(model, ctx):\n    return FoldShapes().run(model, ctx)\n")
    assert runs_by_hand(tree, pass_classes([tree])) == ["line 6: FoldShapes(...).run"]
