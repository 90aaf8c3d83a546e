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

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_ir as ir

from graphkit._ort_registry import ort_registry
from graphkit._quiet import ort_log_severity
from graphkit._time_limit import DEFAULT_TIMEOUT, run_ort, run_python
from graphkit.errors import InputError, first_line
from graphkit.ir._gc import collector_paused
from graphkit.ir._light import inference_proto, keep_value
from graphkit.ir._save import inline_proto
from graphkit.ir._schema import onnx_schema

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


def ort_reason(err: BaseException | None) -> str:
    """ORT's own reason, without its '[ONNXRuntimeError] : 1 : FAIL :' wrappers and the C++
    source location and signature it nests in front of the reason."""
    text = first_line(err, limit=2000)
    text = re.split(r"\[ONNXRuntimeError\] : \d+ : \w+ : ", text)[-1]
    text = text.split(" , Error ", 1)[-1]  # "invalid model. In Node, (the node's types) , Error X"
    # "graph.cc:1357 onnxruntime::Graph::Graph(const Model&, ...) Reason", or "x.cc:12 Fn Reason"
    location = r"^\S+\.(?:cc|h):\d+ (?:(?:[\w:<>]+ )?[\w:~<>]+\((?:[^()]|\([^()]*\))*\) |\S+ )"
    return re.sub(location, "", text)[:300]


# What the checker asks that is no defect to refuse a model for: a shape on every graph input
# and output (the IR leaves it optional: a tensor of unknown rank; ORT runs such models and
# onnx's own helpers write them), and a graph name (fix names a nameless graph it writes).
UNKNOWN_RANK_COMPLAINT = "Field 'shape' of 'type' is required but missing"
NAMELESS_GRAPH_COMPLAINT = "Field 'name' of 'graph' is required to be non-empty"


def refuse_invalid_onnx(proto: onnx.ModelProto) -> None:
    """Raise InputError where the ONNX checker rejects the model: a rewrite of it proves
    nothing, and graphkit would write it out as invalid as it came. (graphkit's light protos,
    weights fed as inputs, take the checker a few ms at 8,000 nodes.)"""
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        if any(text in str(err) for text in (UNKNOWN_RANK_COMPLAINT, NAMELESS_GRAPH_COMPLAINT)):
            return
        graph = f" (graph '{proto.graph.name}')" if proto.graph.name else ""
        raise InputError(f"the model{graph} is not valid ONNX (the ONNX checker: "
                         f"{first_line(err, 200)})") from None


def says_invalid(err: BaseException) -> bool:
    """ORT refused the model as invalid (types or shapes that contradict the op schemas, an
    IR version it does not know), not for want of a kernel or an op schema: the reference
    evaluator, which checks far less, must not stand in for it then (it stands in only
    where ORT lacks a kernel). Measured on the node conformance cases: the ones ORT refuses
    are all NOT_IMPLEMENTED or 'not a registered function/op', never these."""
    text = str(err)
    newer = re.search(r"Opset (\d+) is under development", text)
    if newer:  # newer than this ORT: the evaluator's case, unless onnx does not know it either
        domain = re.search(r"support for domain (\S+) is till", text)
        known = _onnx_opset_versions().get(domain.group(1) if domain else "ai.onnx", 0)
        return int(newer.group(1)) > known
    if "No Op registered" in text:  # an op newer than this ORT: the evaluator's case ...
        return _onnx_has_no_such_op(text)  # ... unless ONNX itself defines no such op
    invalid = ("Type Error", "TypeInferenceError", "ShapeInferenceError",
               "Unsupported model IR version", "This is an invalid model")
    return type(err).__name__ == "InvalidGraph" or any(word in text for word in invalid)


@functools.cache
def _onnx_opset_versions() -> dict[str, int]:
    """Domain -> the newest opset the installed onnx defines ops for ('ai.onnx' for '')."""
    versions = {"ai.onnx": onnx.defs.onnx_opset_version()}
    for schema in onnx.defs.get_all_schemas_with_history():
        domain = schema.domain or "ai.onnx"
        versions[domain] = max(versions.get(domain, 0), schema.since_version)
    return versions


def _onnx_has_no_such_op(text: str) -> bool:
    """ORT's 'No Op registered for HannWindow with domain_version of 13' names an op that
    ONNX's own schemas do not define at that opset either (HannWindow came in 17)."""
    found = re.search(r"No Op registered for (\w+) with domain_version of (\d+)", text)
    domain = re.search(r'In Node, \("[^"]*", \w+, "([^"]*)"', text)
    if not found or not domain or domain.group(1) not in ("", "ai.onnx"):
        return False
    op_type, version = found.group(1), int(found.group(2))
    if version > onnx.defs.onnx_opset_version():  # newer than the onnx installed here
        return False
    return not onnx.defs.has(op_type, version, "")


def _refuse_empty_required_inputs(proto: onnx.ModelProto) -> None:
    """An input left empty ('') where the op's schema does not make it optional. ORT refuses
    most, but SEGFAULTS on one in a variadic input (Min(a, ''): fuzz mutant 3-5199), so
    the check comes before ORT sees the model."""
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    for node in _nodes(proto.graph):
        if node.domain not in ("", "ai.onnx") or "" not in node.input:
            continue
        schema = onnx_schema(node.op_type, opset)
        if schema is None or not schema.inputs:
            continue
        for index, name in enumerate(node.input):
            formal = schema.inputs[min(index, len(schema.inputs) - 1)]
            if name == "" and formal.option != formal.option.Optional:
                named = f"'{node.name}'" if node.name else "(unnamed)"
                raise InputError(f"{node.op_type} node {named} leaves its input {index} "
                                 f"('{formal.name}') empty, which the op requires")


def _nodes(graph: onnx.GraphProto):
    """The graph's nodes and those of its subgraphs (Loop and If bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else attr.graphs:
                yield from _nodes(sub)


class ModelRunner:
    """Runs one model, many times, on ORT or (where ORT refuses it) the reference evaluator."""

    def __init__(self, model: ir.Model | onnx.ModelProto | LightModel, *, prefer: str = "ort",
                 serialized: bytes | None = None, timeout: float | None = DEFAULT_TIMEOUT
                 ) -> None:
        """`serialized`: the proto's (or the light model's proto's) bytes, when the caller
        has them already. `timeout`: seconds one run may take (None: no limit); past it the
        run raises RunTimeout naming the node still running."""
        self.timeout = timeout
        self._light = model if isinstance(model, LightModel) else None
        if isinstance(model, LightModel):
            self.proto = model.proto
        elif isinstance(model, onnx.ModelProto):
            self.proto = model
        else:  # with its data: the runtimes would look for external data in the cwd
            self.proto = inline_proto(model)
        self._serialized = serialized
        self.runtime = ""
        self._run = self._open(prefer)

    def _open(self, prefer: str):
        _refuse_empty_required_inputs(self.proto)
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
            if says_invalid(ort_error):  # a run on the evaluator would prove nothing
                raise InputError(f"the model is not valid ONNX (ONNX Runtime: "
                                 f"{ort_reason(ort_error)})")
        try:
            from onnx.reference import ReferenceEvaluator

            evaluator = ReferenceEvaluator(self.proto)
        except Exception as err:  # neither runtime takes the model: it cannot be proven
            raise _cannot_run(self.proto, ort_error, err) from None
        self.runtime = "onnx-reference"
        return lambda feeds, seconds: run_python(lambda: evaluator.run(None, feeds), seconds,
                                                 self.timeout)

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
        graph = self.proto.graph
        return lambda feeds, seconds: run_ort(session, {**weights, **feeds}, seconds, graph,
                                              self.timeout)

    @property
    def output_names(self) -> list[str]:
        return [output.name for output in self.proto.graph.output]

    def run(self, feeds: Feeds, *, seconds: float | None = None) -> Feeds:
        """`seconds`: a shorter limit for this run (what is left of a shared Deadline)."""
        limit = self.timeout if seconds is None else min(seconds, self.timeout or seconds)
        results = self._run(feeds, limit)
        return {name: np.asarray(value) for name, value in zip(self.output_names, results)}


def _cannot_run(proto: onnx.ModelProto, ort_error: Exception | None,
                evaluator_error: Exception) -> InputError:
    """What this machine cannot run, graphkit cannot prove a rewrite of or check an artifact
    against: name the op neither runtime knows where there is one, else quote both."""
    node = _first_unknown_op(proto)
    if node:
        return InputError(f"{node}: neither ONNX Runtime nor onnx's reference evaluator knows "
                          "this op, so graphkit cannot run the model to prove rewrites or check "
                          "an artifact (`graphkit diagnose` says what each target lacks)")
    why = f"ONNX Runtime: {ort_reason(ort_error)}; " if ort_error else ""
    return InputError(f"the model cannot be run ({why}onnx's reference evaluator: "
                      f"{first_line(evaluator_error)})")


def _first_unknown_op(proto: onnx.ModelProto) -> str | None:
    """'node NAME (domain:Op)' for the first main-graph node whose op neither ONNX Runtime
    nor onnx knows, nor the model defines as a function."""
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
