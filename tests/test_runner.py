"""fmnist.runner in this process: a stored run executed to each of its ends (finished, stopped, failed), as a
worker or a foreground `train` does, with what it leaves in the store and on disk."""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
import socket
from pathlib import Path

import pytest

from fmnist import jobs, presets, runner
from fmnist.store import RunGone

TINY = dict(subset=300, epochs=2, batch_size=64)


def test_a_run_is_executed_to_finished_with_its_epochs_and_model(cached_lab):
    store, s = cached_lab
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", **TINY))
    assert runner.execute(store, s, run_id) == "finished"
    run = store.get(run_id)
    assert (run.status, run.epochs, run.node) == ("finished", 2, socket.gethostname())
    assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2]
    assert hashlib.sha256(Path(run.model_path).read_bytes()).hexdigest() == run.model_sha256
    assert 0 < run.val_acc <= 1 and 0 < run.test_acc <= 1
    assert store.artifact(run_id) is None  # on the local executor the app reads the file itself


def test_on_a_cluster_node_the_model_also_goes_into_the_store(cached_lab):
    store, s = cached_lab
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", **TINY))
    assert runner.execute(store, dataclasses.replace(s, executor="ray"), run_id) == "finished"
    run = store.get(run_id)
    digest, suffix, data = store.artifact(run_id)
    assert (digest, suffix) == (run.model_sha256, Path(run.model_path).suffix)
    assert data == Path(run.model_path).read_bytes()


def test_a_stop_request_ends_it_stopped_with_its_model(cached_lab):
    store, s = cached_lab
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", subset=300, epochs=50, batch_size=64))
    hooks = runner.store_hooks(store, run_id, s.run_time_limit)
    assert hooks.should_stop() is None
    store.request_stop(run_id)  # before the first epoch: heard at the first check
    assert runner.execute(store, s, run_id) == "stopped"
    run = store.get(run_id)
    assert (run.status, run.error) == ("stopped", "stopped by request")
    assert run.epochs < 50 and run.test_acc is None


def test_a_node_without_the_dataset_fails_the_run_naming_the_node(cached_lab, tmp_path):
    store, s = cached_lab
    empty = tmp_path / "no-data"
    empty.mkdir()
    shutil.rmtree(s.cache_dir)
    s.cache_dir.mkdir()
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", **TINY))
    assert runner.execute(store, dataclasses.replace(s, executor="ray", data_dir=empty), run_id) == "failed"
    error = store.get(run_id).error
    assert f"Fashion-MNIST is missing on node {socket.gethostname()}" in error
    assert "apt-get install dataset-fashion-mnist" in error and store.epochs(run_id) == []


def test_an_unexpected_error_fails_the_run_with_its_name(cached_lab, monkeypatch):
    store, s = cached_lab

    def broken(*args, **kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(runner, "fit", broken)
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", **TINY))
    assert runner.execute(store, s, run_id) == "failed"
    assert store.get(run_id).error == "RuntimeError: the disk went away"  # never left "running"


def test_a_run_that_does_not_exist_is_refused(cached_lab):
    store, s = cached_lab
    with pytest.raises(RunGone, match="run 999 does not exist"):
        runner.execute(store, s, 999)


def test_a_bfloat16_batch_normalised_run_saves_a_model_a_fresh_process_loads(cached_lab, caplog, tmp_path):
    import subprocess
    import sys

    import numpy as np

    from fmnist import artifacts
    store, s = cached_lab
    config = presets.config_for("lab_best", subset=300, epochs=1, minutes=None, precision="bfloat16")
    run_id = jobs.create_foreground(store, config)
    with caplog.at_level("INFO", logger="fmnist.runner"):
        assert runner.execute(store, s, run_id) == "finished"
    assert f"run {run_id} computes in bfloat16" in caplog.text
    run = store.get(run_id)
    x = np.random.RandomState(0).randint(0, 256, (5, 28, 28)).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    here = artifacts.load(run.model_path, run.model_sha256, "cnn", True).predict_proba(x)
    # a page's process loads it without having built or trained anything: the layer must register itself
    code = ("import sys, numpy as np; from fmnist import artifacts; "
            "m = artifacts.load(sys.argv[1], sys.argv[2], 'cnn', True); "
            "np.save(sys.argv[3], m.predict_proba(np.load(sys.argv[4])))")
    done = subprocess.run([sys.executable, "-c", code, run.model_path, run.model_sha256, str(tmp_path / "p.npy"),
                           str(tmp_path / "x.npy")], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), here, atol=1e-6)
