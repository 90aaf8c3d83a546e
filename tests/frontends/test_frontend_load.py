"""graphkit.load refuses pickles and leaves every input file as it found it."""

from __future__ import annotations

import hashlib

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
