"""Run a model on ONNX Runtime, or on onnx's reference evaluator where ORT has no kernel.

The proofs run a model once or a few times, so session set-up dominates, and most of it
is the weights: serializing them into the proto and ORT copying them out again. A
`LightModel` avoids both: its proto has the large weights as typed graph inputs, and the
runner feeds them from the IR's own arrays at every run. On the 8,064-node benchmark
transformer that takes serialize + session from 0.75-1.15 s to 0.3 s. Outputs agree with
the full proto's to float rounding (ORT pre-packs constant MatMul weights, so the order
of accumulation differs: 7.6e-6 on outputs of magnitude 10); a proof compares light with
light, where a rewrite that changes nothing gives 0.0. Where ORT wants a weight to be a
constant (some kernels check at session set-up), the runner falls back to the full proto.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_ir as ir

from graphkit._quiet import ort_log_severity
from graphkit.errors import InputError, first_line
from graphkit.ir._light import inference_proto, keep_value

Feeds = dict[str, np.ndarray]

# Weights fed as inputs must convert to numpy arrays ORT takes (no bfloat16, float8, int4).
_FEEDABLE = frozenset({
    ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.DOUBLE, ir.DataType.INT8,
    ir.DataType.UINT8, ir.DataType.INT16, ir.DataType.UINT16, ir.DataType.INT32,
    ir.DataType.UINT32, ir.DataType.INT64, ir.DataType.UINT64, ir.DataType.BOOL,
})


@dataclass(frozen=True)
class LightModel:
    """A model as its graph with the large weights turned into typed inputs, plus those weights.

    Built on the caller's thread; afterwards it shares nothing mutable with the IR model (the
    arrays are the tensors' own, and passes replace tensors rather than write into them)."""

    proto: onnx.ModelProto
    weights: Mapping[str, np.ndarray]
    overridable: frozenset[str]  # weights that were graph inputs too (a caller may feed them)
    tensors: Mapping[str, ir.TensorProtocol]  # the weights' own tensors, for restore()

    @classmethod
    def of(cls, model: ir.Model, reuse: LightModel | None = None) -> LightModel:
        """`reuse`: an earlier capture of this model (before some rewrites): the weights both
        hold as the same tensor objects keep its arrays. A tensor parsed from protobuf copies
        its bytes on every numpy() (protobuf hands out copies of bytes fields); graphkit's
        loader maps a file's large weights instead, but a model built from a proto has them."""
        fed = [v for v in model.graph.initializers.values() if _fed(v)]
        names = {v.name for v in fed}
        proto = inference_proto(model, keep=lambda value: value.name not in names)
        tensors = {v.name: v.const_value for v in fed}
        # By identity: `reuse` holds its tensors, so their ids cannot be taken by new ones.
        known = {id(t): reuse.weights[n] for n, t in reuse.tensors.items()} if reuse else {}
        weights = {name: known[id(tensor)] if id(tensor) in known else tensor.numpy()  # type: ignore[union-attr]
                   for name, tensor in tensors.items()}
        overridable = frozenset(v.name for v in fed if v.is_graph_input())
        return cls(proto, weights, overridable, tensors)  # type: ignore[arg-type]

    def restore(self) -> ir.Model:
        """The model as an independent IR again. The weights are the same tensor objects
        (external ones still read from their folder): passes replace tensors, never write
        into them. Only the fed initializers' order changes (they come last)."""
        from graphkit.ir._gc import collector_paused  # graphkit.ir imports the pass manager

        with collector_paused():
            model = ir.serde.deserialize_model(self.proto)
        graph = model.graph
        inputs = {value.name: value for value in graph.inputs}
        for name, tensor in self.tensors.items():
            value = inputs[name]
            if name not in self.overridable:
                graph.inputs.remove(value)
            value.const_value = tensor
            graph.register_initializer(value)
        return model

    def full_proto(self) -> onnx.ModelProto:
        """The same model with its weights back as initializers."""
        proto = onnx.ModelProto()
        proto.CopyFrom(self.proto)
        moved = set(self.weights) - self.overridable
        inputs = [value for value in proto.graph.input if value.name not in moved]
        del proto.graph.input[:]
        proto.graph.input.extend(inputs)
        for name, array in self.weights.items():
            proto.graph.initializer.append(onnx.numpy_helper.from_array(array, name))
        return proto


def _fed(value: ir.Value) -> bool:
    tensor = value.const_value
    return tensor is not None and tensor.dtype in _FEEDABLE and not keep_value(value)


class ModelRunner:
    """Runs one model, many times, on ORT or (where ORT refuses it) the reference evaluator."""

    def __init__(self, model: ir.Model | onnx.ModelProto | LightModel, *, prefer: str = "ort",
                 serialized: bytes | None = None) -> None:
        """`serialized`: the proto's (or the light model's proto's) bytes, when the caller
        has them already."""
        self._light = model if isinstance(model, LightModel) else None
        if isinstance(model, LightModel):
            self.proto = model.proto
        elif isinstance(model, onnx.ModelProto):
            self.proto = model
        else:  # with its data: the runtimes would look for external data in the cwd
            from graphkit.ir._save import inline_proto  # graphkit.ir imports the pass manager

            self.proto = inline_proto(model)
        self._serialized = serialized
        self.runtime = ""
        self._run = self._open(prefer)

    def _open(self, prefer: str):
        ort_error: Exception | None = None
        if prefer == "ort" and self._light is not None:
            try:
                return self._open_ort(dict(self._light.weights))
            except Exception:  # an ORT kernel wants a weight constant: run the full proto
                pass
        self._full()
        if prefer == "ort":
            try:
                return self._open_ort({})
            except Exception as err:  # ORT raises many types; any of them means "not here"
                ort_error = err
        try:
            from onnx.reference import ReferenceEvaluator

            evaluator = ReferenceEvaluator(self.proto)
        except Exception as err:
            why = f"ONNX Runtime: {first_line(ort_error)}; " if ort_error else ""
            raise RuntimeError(f"{why}reference evaluator: {first_line(err)}") from err
        self.runtime = "onnx-reference"
        return lambda feeds: evaluator.run(None, feeds)

    def _full(self) -> None:
        if self._light is not None:
            self.proto, self._serialized, self._light = self._light.full_proto(), None, None

    def _open_ort(self, weights: Feeds):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = ort_log_severity()  # failures arrive as exceptions
        # No busy-waiting between ops: proofs run a model a few times, and spinning workers
        # would take the cores from the passes running beside a reference on its thread.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(
            self._serialized or self.proto.SerializeToString(), options,
            providers=["CPUExecutionProvider"],
        )
        self.runtime = "onnxruntime"
        quiet = ort.RunOptions()
        quiet.log_severity_level = ort_log_severity()
        if not weights:
            return lambda feeds: session.run(None, feeds, quiet)
        return lambda feeds: session.run(None, {**weights, **feeds}, quiet)

    @property
    def output_names(self) -> list[str]:
        return [output.name for output in self.proto.graph.output]

    def run(self, feeds: Feeds) -> Feeds:
        results = self._run(feeds)
        return {name: np.asarray(value) for name, value in zip(self.output_names, results)}


def runner_for_given_model(model: ir.Model | LightModel) -> ModelRunner:
    """A runner for a model as the user gave it. One that neither ONNX Runtime nor onnx's
    reference evaluator can open (an op from a domain neither knows) is an InputError: what
    this machine cannot run, graphkit cannot prove a rewrite of or check an artifact against."""
    try:
        return ModelRunner(model)
    except RuntimeError as err:  # what ModelRunner raises when nothing here opens the model
        proto = model.proto if isinstance(model, LightModel) else ir.to_proto(model)
        node = _first_unknown_op(proto)
        why = (f"{node}: neither ONNX Runtime nor onnx's reference evaluator knows this op"
               if node else f"the model cannot be run here ({first_line(err, 200)})")
        raise InputError(f"{why}, so graphkit cannot run the model to prove rewrites or check an "
                         "artifact (`graphkit diagnose` says what each target lacks)") from None


def _first_unknown_op(proto: onnx.ModelProto) -> str | None:
    """'node NAME (domain:Op)' for the first main-graph node whose op neither ONNX Runtime
    nor onnx knows, nor the model defines as a function."""
    from graphkit._ort_registry import ort_registry

    known = ort_registry().schemas
    local = {(function.domain, function.name) for function in proto.functions}
    for node in proto.graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        if (domain, node.op_type) in known or (domain, node.op_type) in local:
            continue
        if onnx.defs.has(node.op_type, domain):
            continue
        return f"node '{node.name or node.op_type}' ({node.domain or 'ai.onnx'}:{node.op_type})"
    return None
