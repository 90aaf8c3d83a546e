"""graphkit's .tflite against TF's own converter (Keras models) and ONNX Runtime (torch models).

    python tools/bench_tflite.py [--keras mobilenet_v2,...] [--torch resnet,...] [--repeats 30]
                                 [--size 224]

Keras (tools/keras_models.py): the same model through tf2onnx -> ONNX -> graphkit, and
through TF's TFLiteConverter. Printed: builtin op count and TRANSPOSE count of each file,
LiteRT latency on one thread (interleaved repeats, medians; goal <= 1.05x), conversion time
(goal <= 0.2x: graphkit's fix + emit, without the tf2onnx step, which is printed apart, and
without the validation run, which TF's converter does not do either; the whole `convert`
with validation is printed too), and graphkit's max abs error against the Keras model.
Torch (tools/models.py): graphkit's .tflite against ONNX Runtime on the ONNX file, both on
one thread.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import keras_models  # noqa: E402
import models  # noqa: E402
from _timing import interleaved_seconds  # noqa: E402

GOAL_LATENCY, GOAL_CONVERSION = 1.05, 0.2
# Nothing pinned: the LSTM and BERT keep their dynamic batch and sequence.
PINS: dict[str, str] = {}


def median_seconds(fns: dict[str, callable], repeats: int) -> dict[str, float]:
    return {name: statistics.median(times)
            for name, times in interleaved_seconds(fns, repeats).items()}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def builtin_counts(path: Path) -> collections.Counter:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    return collections.Counter(op["op_name"] for op in interpreter._get_ops_details())


def single_input_runner(path: Path):
    """image -> the first output, on one thread (TF's converter writes no SignatureDef for
    a concrete function: both files are run by tensor index)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    result = interpreter.get_output_details()[0]["index"]

    def run(image: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source, image)
        interpreter.invoke()
        return interpreter.get_tensor(result)

    return run


def signature_runner(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=1).get_signature_runner()


def bench_keras(name: str, size: int, repeats: int, folder: Path) -> dict:
    import graphkit
    from graphkit.backends.tflite.emitter import PREPARE, emit

    net = keras_models.keras_model(name, size)
    onnx_path, export_s = timed(lambda: keras_models.export_keras(net, folder / f"{name}.onnx"))
    theirs_bytes, theirs_s = timed(lambda: keras_models.tflite_by_tf(net))
    theirs = folder / f"{name}.tf.tflite"
    theirs.write_bytes(theirs_bytes)
    scale = 255.0 if name == "efficientnet_b0" else 1.0  # its own rescaling comes first
    image = (np.random.default_rng(0).random((1, size, size, 3)) * scale).astype(np.float32)
    (fixed, _), fix_s = timed(lambda: graphkit.fix(onnx_path, "tflite", inputs={"input": image},
                                                    passes=PREPARE))  # as convert does
    ours, emit_s = timed(lambda: emit(fixed, folder / f"{name}.gk.tflite").path)
    artifact, convert_s = timed(lambda: graphkit.convert(
        onnx_path, "tflite", folder / f"{name}.convert.tflite", inputs={"input": image}))
    expected = net(image, training=False).numpy()
    run_ours, run_theirs = single_input_runner(ours), single_input_runner(theirs)
    got = run_ours(image)
    times = median_seconds({"ours": lambda: run_ours(image),
                            "theirs": lambda: run_theirs(image)}, repeats)
    counts_ours, counts_theirs = builtin_counts(ours), builtin_counts(theirs)
    return {
        "model": name, "validated": artifact.validated,
        "ops": (sum(counts_ours.values()), sum(counts_theirs.values())),
        "transposes": (counts_ours["TRANSPOSE"], counts_theirs["TRANSPOSE"]),
        "latency_ms": (times["ours"] * 1e3, times["theirs"] * 1e3),
        "convert_s": (fix_s + emit_s, theirs_s), "fix_s": fix_s, "emit_s": emit_s,
        "full_convert_s": convert_s, "tf2onnx_s": export_s,
        "max_abs": float(np.max(np.abs(got - expected))),
        "output_range": float(np.ptp(expected)),
    }


def bench_torch(name: str, repeats: int, folder: Path) -> dict:
    import onnxruntime as ort

    import graphkit

    _, example, _ = models.ZOO[name]()
    onnx_path = models.export_zoo_model(name, folder / f"{name}.onnx")
    feeds = {value.name: tensor.numpy() for value, tensor
             in zip(graphkit.load(onnx_path).graph.inputs, example)}
    pins = {"fix_options": {"pin": PINS[name]}} if name in PINS else {}
    artifact = graphkit.convert(onnx_path, "tflite", folder / f"{name}.tflite", inputs=feeds,
                                **pins)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    runner = signature_runner(artifact.path)
    times = median_seconds({"ours": lambda: runner(**feeds),
                            "ort": lambda: session.run(None, feeds)}, repeats)
    counts = builtin_counts(artifact.path)
    return {"model": name, "validated": artifact.validated,
            "max_abs": max(d.max_abs for d in artifact.validation),
            "ops": sum(counts.values()), "transposes": counts["TRANSPOSE"],
            "latency_ms": (times["ours"] * 1e3, times["ort"] * 1e3)}


def print_keras(row: dict) -> None:
    (ours, theirs), (t_ours, t_theirs) = row["latency_ms"], row["convert_s"]
    print(f"{row['model']:20} {row['ops'][0]:>4}/{row['ops'][1]:<4} "
          f"{row['transposes'][0]:>3}/{row['transposes'][1]:<3} {ours:8.2f} {theirs:8.2f} "
          f"{ours / theirs:6.3f} {t_ours:6.2f} {t_theirs:6.2f} {t_ours / t_theirs:6.3f} "
          f"{row['full_convert_s']:7.2f} {row['tf2onnx_s']:7.2f} {row['max_abs']:9.2e} "
          f"{row['output_range']:7.3f} {'ok' if row['validated'] else 'NOT VALIDATED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keras", default=",".join(keras_models.KERAS))
    parser.add_argument("--torch", default="resnet,unet,deeplab,lstm,bert")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.keras:
            print("Keras: graphkit (tf2onnx -> graphkit) / TF TFLiteConverter, LiteRT 1 thread")
            print(f"{'model':20} {'ops':>9} {'TRANSP':>7} {'gk ms':>8} {'tf ms':>8} {'ratio':>6} "
                  f"{'gk s':>6} {'tf s':>6} {'ratio':>6} {'conv s':>7} {'tf2onnx':>7} "
                  f"{'max abs':>9} {'range':>7}")
            for model in args.keras.split(","):
                print_keras(bench_keras(model, args.size, args.repeats, folder))
            print(f"goals: latency <= {GOAL_LATENCY}x, conversion (fix + emit) <= "
                  f"{GOAL_CONVERSION}x; conv s: the whole convert, validation included")
        if args.torch:
            print("\nTorch: graphkit .tflite (LiteRT) / ONNX Runtime on the ONNX file, 1 thread")
            print(f"{'model':12} {'ops':>5} {'TRANSP':>6} {'gk ms':>8} {'ort ms':>8} "
                  f"{'ratio':>6} {'max abs':>9}")
            for model in args.torch.split(","):
                row = bench_torch(model, args.repeats, folder)
                ours, theirs = row["latency_ms"]
                print(f"{model:12} {row['ops']:5} {row['transposes']:6} {ours:8.2f} "
                      f"{theirs:8.2f} {ours / theirs:6.3f} {row['max_abs']:9.2e} "
                      f"{'ok' if row['validated'] else 'NOT VALIDATED'}")


if __name__ == "__main__":
    main()
