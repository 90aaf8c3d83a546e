"""The backend registry (graphkit.backends.BACKENDS): every row keeps the protocols of
backends/base.py, and what `fix` reads from a row (pipeline, NMS form) is what each target
had before the registry existed."""

from __future__ import annotations

import pytest
from conftest import require

from graphkit.backends import (
    BACKENDS,
    emitter,
    emitter_names,
    get_target,
    nms_form,
    pipeline_for,
    runner,
    runners_by_suffix,
)
from graphkit.errors import InputError

CLEANUP = ("eliminate-identity,lift-constants,eliminate-common-subexpressions,fold-constants,"
           "fold-shapes,remove-redundant-casts,eliminate-common-subexpressions,remove-dead-nodes")
# The optional module each emitter imports, and the extra that brings it.
NEEDS = {"torchscript": ("torch", "torch"), "tflite": ("ai_edge_litert", "tensorflow")}
PORTABLE_17 = (f"{CLEANUP},fuse{{rules=neutral+pad-conv+conv-bn+conv-scale+transposes+reshapes}},"
               "remove-dead-nodes")


def test_names_are_unique_and_each_builds_its_target():
    names = [backend.name for backend in BACKENDS]
    assert len(names) == len(set(names))
    for name in names:
        if name == "torchscript":
            require("torch", "torch")
        assert get_target(name).name == name


def test_every_runner_says_whether_it_runs_here():
    for backend in BACKENDS:
        if backend.runner is None:
            continue
        why_not = runner(backend.name).available()
        assert why_not is None or (isinstance(why_not, str) and why_not)
        assert callable(runner(backend.name).run_artifact)


def test_a_runner_reads_what_its_emitter_writes():
    for name in emitter_names():
        if name in NEEDS:
            require(*NEEDS[name])
        assert set(emitter(name).SUFFIXES) == {s for s, t in runners_by_suffix().items()
                                               if t == name}


@pytest.mark.parametrize(("target", "form"), [
    ("ort", "keep"), ("tensorrt", "plugin"), ("tensorrt@10.1", "plugin"),
    ("tensorrt@10.3", "plugin"),  # a version the table lacks takes its family's form
    ("tflite", "native"), ("tflite-builtins", "keep"), ("ort-nnapi", "keep"),
    ("torchscript", "keep"), ("a-plugin-target", "keep"),
])
def test_nms_form_per_target(target, form):
    assert nms_form(target) == form


def test_ort_and_tflite_get_their_fusions_and_the_others_the_portable_ones():
    ort = pipeline_for("ort", 17)
    assert ort.startswith(CLEANUP + ",fuse{rules=neutral+pad-conv+conv-bn+conv-scale+gemm+")
    assert "+layer-norm+" in ort and "+transposes+reshapes}" in ort
    for name in ("tflite", "tflite-builtins"):
        tflite = pipeline_for(name, 17)
        # gelu needs opset 20; hard-sigmoid would lower to more builtins than its pieces
        assert "+layer-norm+hard-swish+" in tflite and "gelu" not in tflite
        assert "hard-sigmoid" not in tflite and "gelu" in pipeline_for(name, 20)
    for name in ("tensorrt", "ort-coreml", "torchscript", "a-plugin-target"):
        assert pipeline_for(name, 17) == PORTABLE_17


def test_a_target_without_an_emitter_or_runner_says_so():
    # tensorrt (11.5) has both since issue 15; its older versions stay analysis only.
    with pytest.raises(InputError, match="no emitter for target .tensorrt@10.15."):
        emitter("tensorrt@10.15")
    with pytest.raises(InputError, match="no runner for target 'tensorrt@10.15'"):
        runner("tensorrt@10.15")
