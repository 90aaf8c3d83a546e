"""build_engine.sh: the trtexec build and the polygraphy check, for a machine with TensorRT.

The commands do what graphkit's own build does where TensorRT is installed (_build.py):
parse the TRT-ready ONNX, build strongly typed (on TensorRT 11 every network is; 10.x needs
--stronglyTyped, 11.x accepts it as a no-op), with the profile's min/opt/max shapes, and
save the engine; then `polygraphy run --trt --onnxrt` compares TensorRT with ONNX Runtime on
the same inputs, the check graphkit could not run here.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from graphkit.backends.tensorrt.profiles import STATIC, InputProfile, trtexec_shapes


def _quoted_name(name: str) -> str:
    """trtexec splits its shape lists at ',' and ':'; a name holding either is wrapped in
    single quotes, which trtexec strips."""
    return f"'{name}'" if any(c in name for c in ",:") else name


def build_script(onnx_name: str, engine_name: str, profile: Sequence[InputProfile], *,
                 workspace_mib: int | None, timing_cache: str | None,
                 not_built_because: str | None) -> str:
    """The script's text; file names are relative to the folder it is written in.
    `not_built_because`: why graphkit built no engine here (None: it built one)."""
    renamed = [InputProfile(_quoted_name(p.name), p.min, p.opt, p.max, p.source)
               for p in profile]
    trtexec = [["trtexec"], [f"--onnx={onnx_name}"], ["--stronglyTyped"],
               *([f"--{flag}={value}"] for flag, value in trtexec_shapes(renamed).items())]
    polygraphy = [["polygraphy", "run", onnx_name], ["--trt", "--onnxrt", "--strongly-typed"]]
    if workspace_mib is not None:
        trtexec.append([f"--memPoolSize=workspace:{workspace_mib}M"])
        polygraphy.append([f"--pool-limit=workspace:{workspace_mib}M"])
    if timing_cache:
        trtexec.append([f"--timingCacheFile={timing_cache}"])
        polygraphy.append([f"--timing-cache={timing_cache}"])
    trtexec.append([f"--saveEngine={engine_name}"])
    polygraphy += _polygraphy_shapes(profile)  # polygraphy splits name:[dims] at the last ':'
    header = (["# graphkit built no engine where it wrote this (" + not_built_because + "):",
               "# the engine was NOT built and NOT validated. Run this where TensorRT is."]
              if not_built_because else
              ["# graphkit built and validated the engine with TensorRT's Python API; this",
               "# is the same build with trtexec, and the same check with polygraphy."])
    return "\n".join([
        "#!/usr/bin/env bash",
        "# Written by graphkit convert --to tensorrt.",
        *header,
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        "# Build: strongly typed (precision comes from the ONNX tensor types), one profile.",
        _line(trtexec),
        "# Check: TensorRT against ONNX Runtime on the same inputs.",
        _line(polygraphy),
        "",
    ])


def _polygraphy_shapes(profile: Sequence[InputProfile]) -> list[list[str]]:
    """polygraphy's --trt-min/opt/max-shapes take `name:[d0,d1,...]` per input."""
    dynamic = [p for p in profile if p.source != STATIC]
    if not dynamic:
        return []
    return [[f"--trt-{flag}-shapes", *(f"{p.name}:[{','.join(map(str, pick(p)))}]"
                                       for p in dynamic)]
            for flag, pick in (("min", lambda p: p.min), ("opt", lambda p: p.opt),
                               ("max", lambda p: p.max))]


def _line(chunks: list[list[str]]) -> str:
    """One shell command, an option (with its values) per line."""
    return " \\\n    ".join(" ".join(shlex.quote(word) for word in chunk) for chunk in chunks)
