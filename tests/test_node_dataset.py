"""A cluster node without the dataset fails the run with a message naming the node and what to install."""
from __future__ import annotations

import socket

import pytest

from fmnist import data, settings


@pytest.fixture
def bare_node(tmp_path, monkeypatch, workspace):
    """A workspace on a machine where neither Debian's folder nor the Keras cache holds the data."""
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data, "KERAS_DIR", tmp_path / "no-keras")
    return workspace


def test_a_node_without_the_data_is_named_with_what_to_install(bare_node, tmp_path):
    message = data.missing_dataset_message(bare_node, node="gpu-node-3")
    assert message == (f"Fashion-MNIST is missing on node gpu-node-3: none of {tmp_path / 'no-debian'}, "
                       f"{tmp_path / 'no-keras'} holds the four Fashion-MNIST files. On that node run "
                       "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or set FMNIST_DATA_DIR to a "
                       "folder holding the four IDX files.")


def test_the_node_defaults_to_this_hosts_name(bare_node):
    assert f"missing on node {socket.gethostname()}:" in data.missing_dataset_message(bare_node)


def test_an_incomplete_data_dir_is_the_reason(bare_node, tmp_path, monkeypatch):
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "train-images-idx3-ubyte").write_bytes(b"")
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "partial"))
    message = data.missing_dataset_message(settings.load(), node="n1")
    assert message.startswith(f"Fashion-MNIST is missing on node n1: FMNIST_DATA_DIR={tmp_path / 'partial'} lacks "
                              "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte")


def test_files_or_a_built_cache_are_enough(bare_node, tmp_path):
    data.DEBIAN_DIR.mkdir()
    for stem in data.FILES.values():
        (data.DEBIAN_DIR / (stem + ".gz")).write_bytes(b"")
    assert data.missing_dataset_message(bare_node, node="n1") is None
    for stem in data.FILES.values():
        (data.DEBIAN_DIR / (stem + ".gz")).unlink()
    data.cache_path(bare_node).write_bytes(b"")  # a node handed the workspace's cache needs nothing else
    assert data.missing_dataset_message(bare_node, node="n1") is None
