"""The loader: every shipped table validates; every schema error names the file and the key."""

from __future__ import annotations

import pytest

from graphkit.errors import InputError
from graphkit.targets._data import CHECK_KINDS, load_target_data, parse_target_data
from graphkit.targets._predicates import PREDICATES

TABLES = ("tensorrt", "tflite", "ort-nnapi", "ort-coreml", "ort-coreml-mlprogram")
TARGET = {
    "name": "t",
    "description": "d",
    "source": "s",
    "opset": [9, 20],
    "unlisted": "unsupported",
}


def parse(ops=(), **target):
    return parse_target_data({"target": {**TARGET, **target}, "op": list(ops)}, "opsets/t.toml")


@pytest.mark.parametrize("name", TABLES)
def test_shipped_tables_load(name):
    data = load_target_data(name)
    assert data.name == name
    assert len(data.ops) > 30
    keys = [(op.domain, op.op, op.versions, op.opset) for op in data.ops]
    assert len(keys) == len(set(keys)), "an op listed twice for the same version"


def test_every_check_kind_has_a_predicate():
    assert set(CHECK_KINDS) == set(PREDICATES)


def test_tensorrt_versions_and_ranges():
    data = load_target_data("tensorrt")
    assert data.default_version == "11.5"
    assert data.version_opsets == {"11.5": (9, 25), "10.15": (9, 24), "10.1": (9, 20)}
    # Attention is new in 10.15 and kept in 11.5: no 10.1 entry exists.
    attention = [op for op in data.ops if op.op == "Attention"]
    assert [op.versions for op in attention] == [("11.5", "10.15")]


@pytest.mark.parametrize(
    ("ops", "target", "needle"),
    [
        ([{"op": "Relu", "dtype": ["float32"]}], {}, "op Relu: unknown key 'dtype'"),
        ([{"op": "Relu", "dtypes": ["fp32"]}], {}, "unknown dtype 'fp32'"),
        ([{"op": "Relu", "status": "maybe"}], {}, "status must be one of"),
        (
            [{"op": "Relu", "checks": [{"kind": "attr-in", "attr": "x"}]}],
            {},
            "missing key 'values'",
        ),
        ([{"op": "Relu", "checks": [{"kind": "attr-inn"}]}], {}, "unknown check kind 'attr-inn'"),
        (
            [{"op": "Relu", "checks": [{"kind": "rank", "inputs": [0], "mx": 4}]}],
            {},
            "check 1: unknown key 'mx'",
        ),
        ([{"op": "Relu", "code": "GK999"}], {}, "unknown finding code 'GK999'"),
        ([{"op": "Relu", "versions": ["9.0"]}], {}, "unknown target version '9.0'"),
        ([{"op": "Relu", "opset": [20, 9]}], {}, "opset must be [low, high]"),
        ([], {"opset": [0, 5]}, "opset must be [low, high]"),
        ([], {"unlisted": "maybe"}, "unlisted must be"),
        ([], {"colour": "red"}, "[target]: unknown key 'colour'"),
        ([{"dtypes": ["float32"]}], {}, "needs a string 'op'"),
    ],
)
def test_bad_tables_name_file_and_key(ops, target, needle):
    with pytest.raises(InputError) as error:
        parse(ops, **target)
    assert "opsets/t.toml" in str(error.value)
    assert needle in str(error.value)


def test_unknown_top_level_table():
    with pytest.raises(InputError, match="unknown key 'ops'"):
        parse_target_data({"target": TARGET, "ops": []}, "opsets/t.toml")


def test_missing_table_is_one_line_error():
    with pytest.raises(InputError, match="opsets/nope.toml: no such target table"):
        load_target_data("nope")


def test_a_valid_entry_round_trips():
    data = parse(
        [
            {
                "op": "Resize",
                "dtypes": ["float32"],
                "checks": [
                    {
                        "kind": "attr-in",
                        "attr": "mode",
                        "values": ["nearest"],
                        "when": {"antialias": 0},
                    }
                ],
            }
        ]
    )
    (entry,) = data.ops
    assert entry.domain == "ai.onnx" and entry.dtype_inputs == (0,)
    assert entry.checks[0].when == {"antialias": 0}
    assert entry.checks[0].args == {"attr": "mode", "values": ["nearest"]}
