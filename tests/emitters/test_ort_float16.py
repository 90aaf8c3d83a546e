"""A float16 model converts to ORT and runs at every optimization level.

ORT 1.32 crashes the process at ORT_ENABLE_ALL on the float16 benchmark transformer (see
graphkit.backends.ort.runner.FLOAT16_UNSAFE_OPTIMIZERS), so the conversion runs in a child
process: a regression fails this test instead of killing the test run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"

SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import models, graphkit
from graphkit.backends.ort import emitter as ort_emitter, runner as ort_runner
from graphkit.runner import ModelRunner

out = sys.argv[2]
source = models.transformer_onnx(out + "/t2.onnx", blocks=2)
half, report = graphkit.fix(source, "ort", passes="float16")
x = np.random.default_rng(0).standard_normal((1, 128, 256)).astype(np.float32)
expected = ModelRunner(graphkit.load(source)).run({"x": x})["y"]
errors = {}
for level in ("extended", "all"):
    artifact = ort_emitter.emit(half, f"{out}/half-{level}.onnx", optimization=level)
    got = ort_runner.run_artifact(artifact.path, {"x": x})["y"]
    errors[level] = float(np.abs(got - expected).max())
kinds = {d.name: d.ok for d in report.validation}
print(json.dumps({"errors": errors, "validated": kinds,
                  "float16": any(p.name == "float16" and p.modified and not p.rolled_back
                                 for p in report.passes)}))
"""


def test_float16_transformer_converts_and_runs_at_every_level(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(TOOLS), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"child died ({done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["float16"] and result["validated"] == {"y": True}
    # float16 by design: within the pass's declared tolerance (atol 1e-3 on outputs up to ~5).
    assert all(error < 5e-3 for error in result["errors"].values()), result["errors"]
