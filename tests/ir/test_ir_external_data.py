"""External data: loads and saves correctly, and every known attack is refused with one line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from graphkit.errors import InputError, UnsafeModelError
from graphkit.ir import load_onnx, save_onnx

WEIGHTS = np.arange(512, dtype=np.float32).reshape(4, 128) / 7  # 2 KiB: large enough to go external


def _write_model(
    folder: Path,
    location: str = "weights.bin",
    *,
    offset: int = 0,
    data: bytes | None = None,
    extra: dict[str, str] | None = None,
    name: str = "model.onnx",
) -> Path:
    """y = MatMul(x, W) with W in an external file; entries crafted as the test needs."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = onnx.TensorProto(name="W", data_type=onnx.TensorProto.FLOAT, dims=list(WEIGHTS.shape))
    weights.data_location = onnx.TensorProto.EXTERNAL
    entries = {"location": location, "offset": str(offset), "length": str(WEIGHTS.nbytes)}
    entries.update(extra or {})
    for key, value in entries.items():
        weights.external_data.add(key=key, value=value)
    if data is not None:
        (folder / location).write_bytes(data)
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 128])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "g", [x], [y], [weights]
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    path = folder / name
    path.write_bytes(model.SerializeToString())  # not onnx.save: it must not touch the data
    return path


def _padded(offset: int = 0) -> bytes:
    return b"\xab" * offset + WEIGHTS.tobytes()


def _run_file(path: Path) -> np.ndarray:
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --- loading and saving -----------------------------------------------------------------


def test_model_from_folder_a_saved_to_folder_b_keeps_its_weights(tmp_path):
    source = _write_model(tmp_path / "a", offset=64, data=_padded(64))
    before = _snapshot(source.parent)
    expected = _run_file(source)
    model = load_onnx(source)
    (tmp_path / "b").mkdir()
    inline = save_onnx(model, tmp_path / "b" / "inline.onnx", external_data=False)
    external = save_onnx(model, tmp_path / "b" / "ext.onnx", external_data=True)
    assert onnx.load(inline).graph.initializer[0].raw_data == WEIGHTS.tobytes()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "ext.onnx",
        "ext.onnx.data",
        "inline.onnx",
    ]
    np.testing.assert_array_equal(_run_file(inline), expected)
    np.testing.assert_array_equal(_run_file(external), expected)
    assert _snapshot(source.parent) == before  # the input files are never modified


def test_saving_over_its_own_input_keeps_file_and_model_right(tmp_path):
    source = _write_model(tmp_path, offset=64, data=_padded(64), name="m.onnx")
    expected = _run_file(source)
    model = load_onnx(source)
    save_onnx(model, source, external_data="weights.bin")  # the very file it maps
    np.testing.assert_array_equal(_run_file(source), expected)
    assert (tmp_path / "weights.bin").stat().st_size == WEIGHTS.nbytes  # new layout, no padding
    # the model in memory now reads the new file at its new offsets
    weights = model.graph.initializers["W"].const_value
    weights.release()  # drop any map of the old file: what it reads now comes from the new one
    np.testing.assert_array_equal(weights.numpy(), WEIGHTS)
    save_onnx(model, tmp_path / "again.onnx", external_data=False)
    np.testing.assert_array_equal(_run_file(tmp_path / "again.onnx"), expected)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_failed_save_leaves_the_old_file_and_no_debris(tmp_path):
    source = _write_model(tmp_path / "a", data=_padded())
    model = load_onnx(source)
    out = tmp_path / "out.onnx"
    out.write_bytes(b"previous contents")
    (tmp_path / "a" / "weights.bin").unlink()  # the weights vanish before the save
    with pytest.raises(InputError, match="out.onnx: cannot save"):
        save_onnx(model, out, external_data=False)
    assert out.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out.onnx"]


# --- attacks on load --------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    ["../outside.bin", "sub/../../outside.bin", "ABSOLUTE"],
    ids=["dotdot", "nested-dotdot", "absolute"],
)
def test_locations_outside_the_folder_are_refused(tmp_path, location):
    """CVE-2022-25882, CVE-2024-27318: path traversal through `location`."""
    outside = tmp_path / "outside.bin"
    outside.write_bytes(WEIGHTS.tobytes())
    if location == "ABSOLUTE":
        location = str(outside)
    path = _write_model(tmp_path / "model", location)
    with pytest.raises(UnsafeModelError, match="tensor 'W' external data: location") as err:
        load_onnx(path)
    assert "\n" not in str(err.value)


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    """CVE-2026-27489: a link inside the folder that points outside it."""
    outside = tmp_path / "secret.bin"
    outside.write_bytes(WEIGHTS.tobytes())
    path = _write_model(tmp_path / "model", "link.bin")
    os.symlink(outside, tmp_path / "model" / "link.bin")
    with pytest.raises(UnsafeModelError, match="symlink that points outside"):
        load_onnx(path)


def test_symlink_that_stays_inside_is_fine(tmp_path):
    path = _write_model(tmp_path, "real.bin", data=_padded())
    os.symlink(tmp_path / "real.bin", tmp_path / "link.bin")
    linked = _write_model(tmp_path, "link.bin", name="linked.onnx")
    weights = load_onnx(linked).graph.initializers["W"].const_value
    np.testing.assert_array_equal(weights.numpy(), WEIGHTS)
    assert load_onnx(path)


def test_unknown_external_data_keys_are_refused(tmp_path):
    """CVE-2026-34445: keys outside location/offset/length/checksum."""
    path = _write_model(tmp_path, data=_padded(), extra={"basepath": "/etc"})
    with pytest.raises(UnsafeModelError, match=r"unknown external_data key\(s\) \['basepath'\]"):
        load_onnx(path)


def test_hard_linked_data_file_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(WEIGHTS.tobytes())
    path = _write_model(tmp_path / "model")
    os.link(elsewhere, tmp_path / "model" / "weights.bin")
    with pytest.raises(UnsafeModelError, match="2 hard links"):
        load_onnx(path)


def test_missing_data_file_names_the_tensor(tmp_path):
    path = _write_model(tmp_path, "gone.bin")
    with pytest.raises(InputError, match="tensor 'W' external data: file 'gone.bin' is missing"):
        load_onnx(path)


def test_data_file_too_short_names_the_tensor(tmp_path):
    path = _write_model(tmp_path, offset=8, data=_padded(8)[:-4])
    with pytest.raises(
        InputError, match=r"tensor 'W' .*too short: needs bytes 8\.\.2056, the file has 2052"
    ):
        load_onnx(path)


def test_length_that_disagrees_with_the_shape_is_refused(tmp_path):
    path = _write_model(tmp_path, data=_padded() * 2, extra={"length": "1024"})
    with pytest.raises(InputError, match="length 1024 does not match its dtype and shape"):
        load_onnx(path)


def test_external_data_without_a_folder_is_refused(tmp_path):
    from graphkit.ir import load_onnx_bytes

    path = _write_model(tmp_path, data=_padded())
    with pytest.raises(InputError, match="given without its folder"):
        load_onnx_bytes(path.read_bytes())


# --- attacks on save --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape.data", "sub/../../escape.data", "ABSOLUTE"])
def test_save_never_writes_outside_the_output_folder(tmp_path, name):
    """CVE-2025-51480: the data file name must keep the write inside the output's folder."""
    source = _write_model(tmp_path / "a", data=_padded())
    model = load_onnx(source)
    out = tmp_path / "out" / "m.onnx"
    out.parent.mkdir()
    if name == "ABSOLUTE":
        name = str(tmp_path / "escape.data")
    with pytest.raises(UnsafeModelError, match="external data file: location"):
        save_onnx(model, out, external_data=name)
    assert not (tmp_path / "escape.data").exists()
    assert list(out.parent.iterdir()) == []


def test_save_refuses_a_data_file_named_like_the_model(tmp_path):
    model = load_onnx(_write_model(tmp_path / "a", data=_padded()))
    with pytest.raises(UnsafeModelError, match="is the model file itself"):
        save_onnx(model, tmp_path / "m.onnx", external_data="m.onnx")


# --- a model over 2 GiB -----------------------------------------------------------------

CHUNK = 1 << 28  # 256 MiB per tensor; nine of them pass protobuf's 2 GiB limit


def _write_big_model(folder: Path, count: int) -> Path:
    """Nine 256 MiB float32 tensors in one sparse data file, with marker values at both ends."""
    folder.mkdir()
    with open(folder / "big.bin", "wb") as data:
        data.truncate(count * CHUNK)  # sparse: costs no disk until written
        for index in range(count):
            os.pwrite(data.fileno(), np.float32([index + 0.5]).tobytes(), index * CHUNK)
            os.pwrite(data.fileno(), np.float32([-index]).tobytes(), (index + 1) * CHUNK - 4)
    tensors, nodes, outputs = [], [], []
    for index in range(count):
        tensor = onnx.TensorProto(
            name=f"T{index}", data_type=onnx.TensorProto.FLOAT, dims=[CHUNK // 4]
        )
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in {"location": "big.bin", "offset": index * CHUNK, "length": CHUNK}.items():
            tensor.external_data.add(key=key, value=str(value))
        tensors.append(tensor)
        nodes.append(onnx.helper.make_node("Gather", [f"T{index}", "idx"], [f"y{index}"]))
        outputs.append(onnx.helper.make_tensor_value_info(f"y{index}", onnx.TensorProto.FLOAT, [2]))
    idx = onnx.helper.make_tensor_value_info("idx", onnx.TensorProto.INT64, [2])
    graph = onnx.helper.make_graph(nodes, "big", [idx], outputs, tensors)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    return folder / "model.onnx"


def _same_content(a: Path, b: Path) -> bool:
    with open(a, "rb") as left, open(b, "rb") as right:
        while True:
            chunk = left.read(1 << 26)
            if chunk != right.read(1 << 26):
                return False
            if not chunk:
                return True


@pytest.mark.slow
def test_a_model_over_2_gib_loads_and_saves_with_external_data(tmp_path):
    import resource
    import shutil

    count = 9
    try:
        source = _write_big_model(tmp_path / "a", count)
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        model = load_onnx(source)
        with pytest.raises(InputError, match="over protobuf's 2 GiB limit"):
            save_onnx(model, tmp_path / "inline.onnx", external_data=False)
        (tmp_path / "b").mkdir()
        out = save_onnx(model, tmp_path / "b" / "model.onnx")  # decides by size: external
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
        assert (tmp_path / "b" / "model.onnx.data").stat().st_size == count * CHUNK > 2**31
        assert out.stat().st_size < 1 << 20
        onnx.checker.check_model(str(out))
        assert _same_content(tmp_path / "a" / "big.bin", tmp_path / "b" / "model.onnx.data")
        reloaded = load_onnx(out)
        for index in range(count):
            values = reloaded.graph.initializers[f"T{index}"].const_value.numpy()
            assert values[0] == index + 0.5 and values[-1] == -index
        print(f"\nover-2-GiB save: {grown / 2**20:.0f} MiB extra peak memory")
        assert grown < 3 * CHUNK, f"saving took {grown / 2**20:.0f} MiB more memory"
        assert not (tmp_path / "inline.onnx").exists()
    finally:
        shutil.rmtree(tmp_path / "a", ignore_errors=True)
        shutil.rmtree(tmp_path / "b", ignore_errors=True)
