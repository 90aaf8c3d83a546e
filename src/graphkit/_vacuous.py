"""Does a numerical check prove anything? Not when the outputs hardly move with the input.

A random-init classifier answers ~1/classes for every image; a model whose weights are
constant gives one output whatever it is fed. Comparing an artifact with such a reference
passes whether or not the artifact computes the right function: one that ignored its input
would pass too. So the reference also runs on the same inputs shuffled (each float input's
values permuted: the same distribution, so inputs that must be positive or in a range stay
so), and where every output stays within the comparison's own tolerance, the check is
called vacuous (GK506, a warning) and real inputs are asked for.
"""

from __future__ import annotations

import numpy as np

from graphkit.findings import Finding, Severity
from graphkit.runner import Feeds, ModelRunner
from graphkit.validation import compare_outputs

SEED = 1


def shuffled(feeds: Feeds, seed: int = SEED) -> Feeds | None:
    """The feeds with each float input's values permuted; None when none of them changes
    (no float input, or only constant ones: the check cannot tell then)."""
    rng = np.random.default_rng(seed)
    varied, changed = dict(feeds), False
    for name, value in feeds.items():
        array = np.asarray(value)
        if array.dtype.kind != "f" or array.size < 2:
            continue
        permuted = rng.permutation(array.ravel()).reshape(array.shape)
        if not np.array_equal(permuted, array):
            varied[name], changed = permuted, True
    return varied if changed else None


def vacuous_check(runner: ModelRunner, feeds: Feeds, outputs: Feeds, *, rtol: float,
                  atol: float) -> Finding | None:
    """GK506 when the reference's `outputs` on `feeds` match its outputs on shuffled feeds
    within (rtol, atol): the comparison would pass an artifact that ignored its input."""
    varied = shuffled(feeds)
    if varied is None or not outputs:
        return None
    try:
        again = runner.run(varied)
    except Exception:  # noqa: BLE001 (shuffled values the model refuses: no verdict)
        return None
    diffs = compare_outputs(outputs, again, rtol=rtol, atol=atol)
    if not all(diff.ok for diff in diffs):
        return None
    moved = max(diff.max_abs for diff in diffs)
    return Finding(
        "GK506", Severity.WARNING,
        f"the outputs hardly change with the input (shuffling the inputs moves them by at "
        f"most {moved:.3g}, within the tolerance): this comparison would pass an artifact "
        "that ignored its input, so it proves little. Pass real inputs (--inputs data.npz), "
        "or check a trained model")
