"""graphkit.load refuses pickles and leaves every input file as it found it."""

from __future__ import annotations

import hashlib
import pickle

import pytest
import torch

import graphkit
from graphkit.errors import InputError, UnsafeModelError


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl"])
def test_pickle_files_are_refused_unread(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save({"weight": torch.ones(2)}, path)  # a real pickle, as users would have
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    with pytest.raises(UnsafeModelError) as caught:
        graphkit.load(path)
    message = str(caught.value)
    assert str(path) in message and "pickle" in message and "\n" not in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_unknown_object_is_an_input_error():
    with pytest.raises(InputError, match="cannot load a dict"):
        graphkit.load({"not": "a model"})


def test_folder_that_is_not_a_saved_model(tmp_path):
    with pytest.raises(InputError, match="not a TensorFlow SavedModel"):
        graphkit.load(tmp_path)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_pickle_with_a_keras_suffix_is_named_and_never_read(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    monkeypatch.setattr(pickle, "loads", _never)
    monkeypatch.setattr(pickle, "load", _never)
    with pytest.raises(InputError) as caught:
        graphkit.load(path)
    pickled = "it is a Python pickle, which graphkit never loads"
    assert str(caught.value) == f"{path}: not a Keras {suffix} model: {pickled}"


def _never(*_args, **_kwargs):
    raise AssertionError("graphkit unpickled the file")


def test_text_with_a_keras_suffix_says_what_it_is_not(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("not a model\n")
    with pytest.raises(InputError, match="model.keras: not a Keras .keras model: it is not a zip"):
        graphkit.load(path)
