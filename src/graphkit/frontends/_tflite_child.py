"""Convert a .tflite file in a child process: `python -m graphkit.frontends._tflite_child REQUEST`.

A corrupt flatbuffer crashes TensorFlow's TFLite interpreter (tf2onnx asks it for the tensor
shapes) with a segfault or bus error, which no `except` can catch: 40 flipped bytes killed
every command. Here the crash ends only the child, and the parent turns the signal into an
InputError. The child first asks LiteRT's flatbuffer verifier, whose message is clearer.

REQUEST is JSON: path, opset, inputs_as_nchw, out (where to write the ONNX model). The child
exits 0 having written `out`, or 2 printing {"error": message} as its last stdout line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx_ir as ir

from graphkit.errors import GraphkitError, InputError
from graphkit.frontends._provenance import Provenance, stamp
from graphkit.frontends._tf2onnx import (
    check_nchw_names,
    import_tensorflow,
    name_unknown_dims,
    run_tf2onnx,
)
from graphkit.ir import load_onnx, save_onnx


def convert_in_child(path: Path, opset: int | None, nchw: list[str] | None) -> ir.Model:
    """The ONNX model convert_tflite makes of `path`, converted in a child process."""
    with tempfile.TemporaryDirectory(prefix="graphkit-tflite-") as folder:
        out = Path(folder) / "model.onnx"
        request = {"path": str(path), "opset": opset, "inputs_as_nchw": nchw, "out": str(out)}
        env = _child_environment()
        done = subprocess.run(
            [sys.executable, "-m", "graphkit.frontends._tflite_child", json.dumps(request)],
            capture_output=True, text=True, env=env, check=False,
        )
        if done.returncode == 0:
            return load_onnx(out, in_place=False)  # `folder` is about to go
    raise _child_error(path, done)


def _child_environment() -> dict[str, str]:
    # The child imports this graphkit, wherever it came from (not only an installed one).
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    # TensorFlow's log lines would only reach the user on a crash, and say nothing then.
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _child_error(path: Path, done: subprocess.CompletedProcess) -> Exception:
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return InputError(
            f"{path}: TensorFlow's TFLite reader crashed on this file ({name}): the flatbuffer "
            "is corrupt, or not one this TensorFlow can read"
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode == 2 and lines:
        return InputError(json.loads(lines[-1])["error"])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return RuntimeError(f"the TFLite conversion process exited with {done.returncode}: {tail}")


def verify_flatbuffer(path: Path) -> None:
    """LiteRT's verifier checks every offset in the flatbuffer before its interpreter reads it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # tf2onnx still converts; only the clearer message is lost
        return
    try:
        Interpreter(model_content=path.read_bytes())
    except ValueError as err:
        if "not a valid Flatbuffer" in str(err):
            raise InputError(
                f"{path}: not a valid TFLite flatbuffer (LiteRT's verifier refuses it)"
            ) from None
    except RuntimeError:  # e.g. an op LiteRT lacks: tf2onnx may still convert it
        return


def convert_tflite(path: Path, opset: int | None, nchw: list[str] | None) -> ir.Model:
    """The conversion itself, with tf2onnx: what the child process runs."""
    tf, tf2onnx = import_tensorflow()
    model = run_tf2onnx(
        tf2onnx.convert.from_tflite,
        str(path),
        tflite_path=str(path),
        opset=opset,
        inputs_as_nchw=nchw,
    )
    if nchw:
        # tf2onnx skips names it does not know: check them against the inputs it made
        # (NCHW and NHWC have the same rank, so the converted shape answers for both).
        ranks = {v.name: None if v.shape is None else len(v.shape) for v in model.graph.inputs}
        check_nchw_names(nchw, ranks)
    name_unknown_dims(model, batch_first=False)
    provenance = Provenance("tflite", tf.__version__, "tf2onnx", tf2onnx.__version__, str(path))
    return stamp(model, provenance)


def main(argv: list[str]) -> int:
    request = json.loads(argv[1])
    path = Path(request["path"])
    try:
        verify_flatbuffer(path)
        model = convert_tflite(path, request["opset"], request["inputs_as_nchw"])
        save_onnx(model, request["out"])
    except GraphkitError as err:
        print(json.dumps({"error": str(err)}))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
