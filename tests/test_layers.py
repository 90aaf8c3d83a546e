"""Imports run one way: down the layers of docs/architecture.md, never up.

Every module's graphkit imports (module level, function level and TYPE_CHECKING alike:
each is a dependency) are read with ast, and each module is given a layer by the first
prefix in LAYERS it matches. A module may import its own layer and the ones below; an
import upward fails, unless KNOWN_UPWARD lists it with why it is still there. That list may
only shrink: an entry that no longer matches an import fails too, so a fix removes it.

A graphkit module imported inside a function must be on FUNCTION_LEVEL, with why: only the
lazy backend registry and modules that need an optional heavy extra (torch, TensorFlow,
LiteRT) earn a place. One that hides an import cycle is a cycle to fix, not to list.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where each part of the graphkit package lives in the repository.
SOURCES = (
    (ROOT / "src" / "graphkit", "graphkit"),
    (ROOT / "passes", "graphkit.passes"),
    (ROOT / "opsets", "graphkit.opsets"),
)

# Lowest first. The first prefix a module's name matches (name == prefix, or a submodule of
# it) decides its layer, so a more specific prefix comes before the package that holds it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # _time_limit is main's (merged from the fuzz branch after this one started).
    ("foundation", ("graphkit.errors", "graphkit.findings", "graphkit._quiet",
                    "graphkit._output", "graphkit._time_limit", "graphkit.opsets",
                    "graphkit._progress", "graphkit._defaults")),
    ("ir", ("graphkit.ir",)),
    ("proof and runners", ("graphkit.runner", "graphkit.validation", "graphkit._chain",
                           "graphkit.proof", "graphkit._reference",
                           "graphkit.report", "graphkit._input_rules", "graphkit._generated_inputs",
                           "graphkit._input_values", "graphkit._ort_registry",
                           "graphkit._vacuous")),
    ("pass infrastructure", ("graphkit.passmanager", "graphkit._pipeline_text", "graphkit.adapters",
                             "graphkit.pass_adapters", "graphkit.patterns", "graphkit.rewrite")),
    ("shared target analysis", ("graphkit.targets",)),
    ("passes", ("graphkit.passes",)),
    # The conformance harness runs diagnose and the emitters: a driver, kept beside them.
    ("drivers", ("graphkit.backends.conformance",)),
    ("backends", ("graphkit.backends",)),
    ("frontends", ("graphkit.frontends",)),
    # min_opset reads what the decompose pass can reach: above the passes, beside diagnose.
    ("drivers", ("graphkit.diagnose", "graphkit.fixing", "graphkit._fix_passes", "graphkit.convert",
                 "graphkit.tables", "graphkit.partitions", "graphkit.summary",
                 "graphkit.min_opset", "graphkit.folders", "graphkit.view",
                 "graphkit.layerwise", "graphkit.reduce", "graphkit._reduce_checks",
                 "graphkit._subgraph", "graphkit.export")),
    ("cli", ("graphkit.cli", "graphkit.__main__")),
)
# The package itself (graphkit/__init__.py) re-exports the drivers' API: the top.
TOP = ("graphkit", "cli")
ORDER = ("foundation", "ir", "proof and runners", "pass infrastructure",
         "shared target analysis", "passes", "backends", "frontends", "drivers", "cli")

# (importer, imported): upward imports still in the code, each with why. Remove an entry
# when its import goes; never add one without a reason the lead agrees with.
KNOWN_UPWARD: dict[tuple[str, str], str] = {
}

_TORCH = "the TorchScript backend's torch-side code: imports torch, an optional extra"
_FRAMEWORK = "a framework frontend: imports TensorFlow or torch, optional extras"
_REGISTRY = ("the backend registry builds a target on first use, so `import graphkit` stays "
             "fast and a backend whose table fails to load breaks only itself")
_TENSORRT = "imports tensorrt or the CUDA runtime, present only where a GPU and TensorRT are"
# (importer, imported) imported inside a function, each with why. May only shrink.
FUNCTION_LEVEL: dict[tuple[str, str], str] = {
    ("graphkit.backends", "graphkit.backends.ort.target"): _REGISTRY,
    ("graphkit.backends", "graphkit.backends.ort_eps.target"): _REGISTRY,
    ("graphkit.backends", "graphkit.backends.tensorrt.target"): _REGISTRY,
    ("graphkit.backends", "graphkit.backends.tflite.target"): _REGISTRY,
    ("graphkit.backends", "graphkit.backends.torchscript.target"): _REGISTRY,
    ("graphkit.backends.torchscript.target", "graphkit.backends.torchscript.lowering"):
        _TORCH + "; the target says torch is missing instead of failing to import",
    ("graphkit.backends.torchscript.lowering._base", "graphkit.backends.torchscript._dtypes"):
        _TORCH,
    ("graphkit.backends.torchscript.lowering._base",
     "graphkit.backends.torchscript.kernels.creation"): _TORCH,
    ("graphkit.backends.torchscript.runner", "graphkit.backends.torchscript._dtypes"): _TORCH,
    ("graphkit.frontends", "graphkit.frontends.tensorflow"): _FRAMEWORK,
    ("graphkit.frontends", "graphkit.frontends.tflite"): _FRAMEWORK,
    ("graphkit.frontends", "graphkit.frontends.torch"): _FRAMEWORK,
    ("graphkit.frontends", "graphkit.frontends.pt2"): _FRAMEWORK,
    ("graphkit.frontends.pt2", "graphkit.frontends.torch"): _FRAMEWORK,
    ("graphkit.backends.intermediates", "graphkit.backends.torchscript.runner"): _TORCH,
    ("graphkit.backends.tflite.lowering._control", "graphkit.backends.tflite.lowering"):
        "an If/Loop body is lowered node by node through the lowering registry, which itself "
        "imports the control-flow lowering",
    ("graphkit.backends.tensorrt.emitter", "graphkit.backends.tensorrt._build"): _TENSORRT,
    ("graphkit.backends.tensorrt.runner", "graphkit.backends.tensorrt._cuda"): _TENSORRT,
}


def module_files() -> dict[str, Path]:
    found = {}
    for folder, package in SOURCES:
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imported_modules(name: str, path: Path, known: set[str],
                     in_functions: bool = False) -> set[str]:
    """The graphkit modules `name` imports, anywhere in its file (only inside functions when
    `in_functions`)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(), str(path))
    scopes = [tree] if not in_functions else [
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    found = set()
    for node in (inner for scope in scopes for inner in ast.walk(scope)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + [base]).rstrip(".")
            # `from graphkit.backends import ort` imports a module; `import get_target` a name.
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                         for a in node.names)
    return {module for module in found if module == "graphkit" or module.startswith("graphkit.")}


def layer_of(module: str) -> str:
    if module == TOP[0]:
        return TOP[1]
    for layer, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def upward_imports() -> dict[tuple[str, str], str]:
    files = module_files()
    found = {}
    for name, path in sorted(files.items()):
        for imported in sorted(imported_modules(name, path, set(files))):
            low, high = layer_of(name), layer_of(imported)
            if ORDER.index(high) > ORDER.index(low):
                found[(name, imported)] = f"{low} imports {high}"
    return found


# The CLI imports a command's machinery when that command runs: `graphkit --help` and
# `--version` must start without onnx, onnx-ir or numpy (issue 13's start-up budget), so its
# modules may import anything in functions.
LAZY_IMPORTERS = ("graphkit.cli",)
# The package binds its public names on first use (PEP 562) for the same budget.
LAZY_PACKAGE = "graphkit"


def function_level_imports() -> set[tuple[str, str]]:
    files = module_files()
    return {(name, imported) for name, path in sorted(files.items())
            if name != LAZY_PACKAGE
            and not any(name == p or name.startswith(p + ".") for p in LAZY_IMPORTERS)
            for imported in imported_modules(name, path, set(files), in_functions=True)}


def test_every_layer_is_in_the_order():
    assert {layer for layer, _ in LAYERS} == set(ORDER)


def test_every_module_has_a_layer():
    for name in module_files():
        layer_of(name)


def test_no_import_runs_upward_but_the_known_ones():
    found = upward_imports()
    new = {pair: why for pair, why in found.items() if pair not in KNOWN_UPWARD}
    assert not new, f"upward imports (move the shared piece down a layer): {new}"


def test_the_known_upward_imports_are_all_still_there():
    gone = set(KNOWN_UPWARD) - set(upward_imports())
    assert not gone, f"fixed: remove from KNOWN_UPWARD in {__file__}: {sorted(gone)}"


def test_the_reader_sees_relative_and_function_level_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("from . import sibling\n\n\ndef f():\n    from graphkit.fix import fix\n")
    found = imported_modules("graphkit.pkg.mod", source, {"graphkit.pkg.sibling"})
    assert found == {"graphkit.pkg.sibling", "graphkit.fix"}


def test_no_graphkit_module_is_imported_in_a_function_but_the_listed_ones():
    new = sorted(function_level_imports() - set(FUNCTION_LEVEL))
    assert not new, f"import these at module level (or fix the cycle that forbids it): {new}"


def test_the_listed_function_level_imports_are_all_still_there():
    gone = sorted(set(FUNCTION_LEVEL) - function_level_imports())
    assert not gone, f"now at module level: remove from FUNCTION_LEVEL in {__file__}: {gone}"


def test_the_reader_tells_function_level_imports_apart(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("import graphkit.errors\n\n\ndef f():\n    from graphkit.fix import fix\n")
    found = imported_modules("graphkit.pkg.mod", source, set(), in_functions=True)
    assert found == {"graphkit.fix"}
