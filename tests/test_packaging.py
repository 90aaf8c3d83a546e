"""The built wheel works without the source tree: passes/ and opsets/ ship inside it."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tiny_cnn.onnx"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True,
    )
    [built] = out.glob("graphkit-*.whl")
    return built


def test_wheel_holds_passes_and_opsets(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "graphkit/passes/__init__.py" in names
    assert "graphkit/passes/fold_constants.py" in names
    for package_dir in ("passes", "src/graphkit"):
        for source in (ROOT / package_dir).rglob("*.py"):
            relative = source.relative_to(ROOT / package_dir)
            prefix = "graphkit/passes" if package_dir == "passes" else "graphkit"
            assert f"{prefix}/{relative.as_posix()}" in names, f"{source} missing from the wheel"
    for data in (ROOT / "opsets").rglob("*"):
        if data.suffix in {".toml", ".json"}:
            assert f"graphkit/opsets/{data.relative_to(ROOT / 'opsets').as_posix()}" in names


def test_installed_wheel_runs_from_a_fresh_venv(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    # The dependencies come from this environment's site-packages (a path entry, so the
    # editable install's finder is not activated); graphkit itself only from the wheel.
    site = Path(sysconfig.get_paths()["purelib"])
    [env_site] = (env_dir / "lib").glob("python*/site-packages")
    (env_site / "deps.pth").write_text(str(site) + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         str(wheel)],
        check=True,
    )
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(python), *args], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    where = run("-c", "import graphkit, graphkit.passes; print(graphkit.__file__)").stdout
    assert str(env_dir) in where, f"graphkit imported from {where!r}, not the wheel"
    assert "inspect" in run("-m", "graphkit", "--help").stdout
    info = json.loads(run("-m", "graphkit", "inspect", str(EXAMPLE), "--format", "json").stdout)
    assert info["nodes"] == 20 and info["inputs"][0]["name"] == "image"
