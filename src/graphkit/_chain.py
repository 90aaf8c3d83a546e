"""A model and the post models a cut split off, run as one chain on the same inputs: what
the proof compares with the reference, and what tests run to see a rewrite's outputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from graphkit._time_limit import DEFAULT_TIMEOUT
from graphkit.runner import Feeds, LightModel, ModelRunner


def feeds_for(model: ir.Model, feeds: Feeds) -> Feeds:
    """The same inputs, cast to the dtypes the rewritten model declares (a rewrite may narrow
    an input from int64 to int32 or widen a uint8 image to float, by design)."""
    adapted = dict(feeds)
    for value in model.graph.inputs:
        array = adapted.get(value.name)
        if not isinstance(value.type, ir.TensorType) or not isinstance(array, np.ndarray):
            continue  # sequences come as lists, and keep their elements' types
        declared = value.dtype.numpy() if value.dtype is not None else array.dtype
        if array.dtype != declared:
            adapted[value.name] = array.astype(declared)
    return adapted


def run_chain(model: ir.Model, post_models: Sequence[ir.Model], feeds: Feeds,
              timeout: float | None = DEFAULT_TIMEOUT) -> Feeds:
    """Outputs of `model`, then of each post model fed from them (and the graph inputs)."""
    return run_captured(LightModel.of(model), model, post_models, feeds, timeout=timeout)[0]


def run_captured(light: LightModel, model: ir.Model, post_models: Sequence[ir.Model],
                 feeds: Feeds, *, prefer: str = "ort", serialized: bytes | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT) -> tuple[Feeds, str]:
    """`run_chain` on a captured model; also says which runtime ran the main model."""
    runner = ModelRunner(light, prefer=prefer, serialized=serialized, timeout=timeout)
    outputs = runner.run(feeds_for(model, feeds))
    for post in post_models:  # the chain: a post model reads main's outputs
        names = [value.name for value in post.graph.inputs]
        post_runner = ModelRunner(post, prefer=prefer, timeout=timeout)
        outputs.update(post_runner.run({n: outputs.get(n, feeds.get(n)) for n in names}))
    return outputs, runner.runtime
