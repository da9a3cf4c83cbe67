"""The run lifecycle on every backend: local processes + SQLite, Ray jobs + SQLite, Ray jobs + PostgreSQL
(the two slowest tests on the first and the last).

Real workers, a real supervisor, a real Ray head and a real PostgreSQL (tests/servers.py); nothing of the
process layer is mocked. Each test runs once per backend; the figures printed (run with -s) are the
costs of a backend, measured, never asserted."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from fmnist import jobs, presets, settings as settings_mod, supervisor
from fmnist.executors import for_settings
from fmnist.executors.local import handle_of
from fmnist.store import Store
from tests import waiting
from tests.playing import start_by_hand


def wait_for(predicate, timeout=300.0, every=0.2):
    return waiting.wait_for(predicate, timeout, every)

TINY = dict(subset=200, epochs=2, batch_size=64)
LONG = dict(subset=3000, epochs=200, batch_size=32)  # stopped or killed long before its end
BACKENDS = ["local-sqlite", "ray-sqlite", "ray-postgres"]
# The slowest tests exercise the executor and the store apart: each executor once, each store once.
EACH_ONCE = pytest.mark.parametrize("backend", ["local-sqlite", "ray-postgres"], indirect=True)


@pytest.fixture(params=BACKENDS)
def backend(request) -> tuple[str, dict]:
    """(executor name, the environment that selects this backend's executor and store)."""
    executor, store = request.param.split("-")
    env = {"FMNIST_EXECUTOR": executor}
    if executor == "ray":
        env["FMNIST_RAY_ADDRESS"] = request.getfixturevalue("ray_head").address
    if store == "postgres":
        env["FMNIST_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return executor, env


@pytest.fixture
def lab(tmp_path, monkeypatch, dataset_cache, backend):
    """make(supervise=True, **env) -> (store, settings, supervisor or None), as an app server has them."""
    started = []

    def make(supervise=True, **env):
        monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        for key, value in {**backend[1], **env}.items():
            monkeypatch.setenv(key, str(value))
        s = settings_mod.load()
        s.ensure_dirs()
        shutil.copy(dataset_cache, s.cache_dir / dataset_cache.name)
        store = Store.open(s)
        sup = supervisor.Supervisor(store, s).start() if supervise else None
        if sup:
            started.append(sup)
        return store, s, sup

    yield make
    for sup in started:
        sup.stop()
        for run in sup.store.runs(statuses=("running",)):  # no worker outlives its test (Ray jobs neither)
            if run.handle:
                sup.executor.cancel(run.handle)




def test_a_run_finishes_with_its_epochs_model_and_log(lab, backend):
    store, s, sup = lab()
    submitted = time.time()
    run_id = jobs.submit(presets.config_for("mlp1", **TINY), store, s)
    wait_for(lambda: store.get(run_id).pid)  # the worker confirmed it runs
    confirmed = time.time()
    wait_for(lambda: store.epochs(run_id))
    first_epoch = time.time()
    wait_for(lambda: store.get(run_id).status in ("finished", "failed", "stopped"))
    ended = time.time()
    run = store.get(run_id)
    print(f"\n[{backend[0]}/{s.database_url and 'postgres' or 'sqlite'}] submit -> worker running "
          f"{confirmed - submitted:.2f} s, -> first epoch {first_epoch - submitted:.2f} s, "
          f"-> finished {ended - submitted:.2f} s")
    assert run.status == "finished", run.error
    assert run.executor == backend[0] and run.node == socket.gethostname()
    assert [e["epoch"] for e in store.epochs(run_id)] == [1, 2]
    assert run.model_sha256 and 0 < run.test_acc <= 1
    if backend[0] == "ray":
        assert run.handle.startswith(f"fmnist-run-{run_id}-")
    assert "ended: finished" in sup.executor.log(run.handle, run_id)


def test_stop_a_running_run_keeps_its_epochs(lab, backend):
    store, s, sup = lab()
    run_id = jobs.submit(presets.config_for("mlp1", **LONG), store, s)
    wait_for(lambda: len(store.epochs(run_id)) >= 1)
    if backend[0] == "local":  # the pages come first: a local worker trains at FMNIST_WORKER_NICE
        assert s.worker_nice == 10
        assert psutil.Process(store.get(run_id).pid).nice() == max(10, psutil.Process().nice())
    asked = time.time()
    assert jobs.stop(run_id, store, s) == "running"
    wait_for(lambda: store.get(run_id).status != "running", timeout=60)
    print(f"\nstop -> stopped in the store after {time.time() - asked:.2f} s")
    run = store.get(run_id)
    assert (run.status, run.error) == ("stopped", "stopped by request")
    assert run.epochs == len(store.epochs(run_id)) >= 1


@EACH_ONCE
def test_kill_9_fails_the_run_and_the_queue_moves_on(lab):
    store, s, sup = lab(FMNIST_SLOTS=1)
    victim = jobs.submit(presets.config_for("mlp1", **LONG), store, s)
    waiting = jobs.submit(presets.config_for("mlp1", name="next in line", **TINY), store, s)
    wait_for(lambda: len(store.epochs(victim)) >= 1)
    assert store.get(waiting).status == "queued"  # one slot: it waits its turn
    os.kill(store.get(victim).pid, signal.SIGKILL)
    killed = time.time()
    wait_for(lambda: store.get(victim).status != "running", timeout=60)
    print(f"\nkill -9 -> failed in the store after {time.time() - killed:.2f} s")
    run = store.get(victim)
    assert run.status == "failed"
    # the signal is named when the executor can see the worker's exit status (Ray always can)
    assert run.error in ("worker died: signal 9", "worker died: its process is gone")
    assert len(store.epochs(victim)) >= 1 and store.integrity_ok()
    wait_for(lambda: store.get(waiting).status in ("finished", "failed"))
    assert store.get(waiting).status == "finished", store.get(waiting).error


@EACH_ONCE
def test_a_restart_of_the_app_server_loses_no_run(lab):
    """The first server goes away mid-run; a second one (new store, supervisor, executor) sees it finish."""
    store, s, first = lab()
    run_id = jobs.submit(presets.config_for("mlp1", subset=1000, epochs=4, batch_size=32), store, s)
    wait_for(lambda: len(store.epochs(run_id)) >= 1)
    first.stop()
    store.close()
    again = Store.open(s)
    second = supervisor.Supervisor(again, s, for_settings(s)).start()
    try:
        wait_for(lambda: again.get(run_id).status != "running")
        assert again.get(run_id).status == "finished", again.get(run_id).error
        assert len(again.epochs(run_id)) == 4
    finally:
        second.stop()
        again.close()


def test_a_restart_fails_a_run_whose_work_is_gone(lab, backend):
    store, s, _ = lab(supervise=False)
    if backend[0] == "ray":
        handle = "fmnist-run-1-00000000"  # a job this cluster never had: its head was restarted
    else:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        handle = handle_of(gone.pid)
        gone.wait()
    run_id = store.create_run(presets.config_for("mlp1", **TINY))
    start_by_hand(store, run_id, None, None, executor=backend[0], handle=handle)
    restarted = supervisor.Supervisor(Store.open(s), s, for_settings(s))
    assert restarted.step() is True
    run = restarted.store.get(run_id)
    assert run.status == "failed" and run.error.startswith(("worker died", "worker gone"))
    restarted.store.close()
