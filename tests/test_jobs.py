"""Background runs with real worker processes and a real supervisor: no mocks of the process layer.

The `lab` fixture runs on each backend in BACKENDS (an executor and a store), so the run lifecycle is
checked the same way on every one."""
from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from fmnist import jobs, presets, schema, settings as settings_mod, supervisor
from fmnist.executors.local import LocalExecutor, handle_of
from fmnist.store import QueueFull, Store
from tests.playing import start_by_hand
from tests.waiting import wait_for

TINY = dict(subset=200, epochs=2, batch_size=64)


BACKENDS = ["local-sqlite"]


@pytest.fixture(params=BACKENDS)
def backend_env(request) -> dict:
    """Environment variables that select the executor and the store of one backend."""
    return {}


@pytest.fixture
def lab(tmp_path, monkeypatch, dataset_cache, backend_env):
    """(store, settings) on a fresh workspace with its supervisor running, as an app server has it.

    make(supervise=False) leaves the supervisor out, for tests that call its steps themselves."""
    started = []

    def make(supervise=True, **env):
        monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
        for key, value in {**backend_env, **env}.items():
            monkeypatch.setenv(key, str(value))
        s = settings_mod.load()
        s.ensure_dirs()
        shutil.copy(dataset_cache, s.cache_dir / dataset_cache.name)
        store = Store.open(s)
        if supervise:
            started.append(supervisor.Supervisor(store, s).start())
        return store, s
    yield make
    for sup in started:
        sup.stop()




def status_of(store, settings, run_id):
    return store.get(run_id).status


# A run's way to finished, stopped while running, and killed with -9: tests/test_run_lifecycle.py, on every backend.


def test_stop_a_queued_run_removes_it_from_the_queue(lab):
    store, s = lab()
    first = jobs.submit(presets.config_for("mlp1", **TINY), store, s)
    second = jobs.submit(presets.config_for("mlp1", name="second", **TINY), store, s)
    wait_for(lambda: store.get(first).status == "running")
    assert store.get(second).status == "queued"
    assert jobs.stop(second, store, s) == "stopped"
    assert store.get(second).error == "removed from the queue" and store.epochs(second) == []
    wait_for(lambda: status_of(store, s, first) == "finished")
    assert store.get(second).status == "stopped"


def test_two_workers_and_readers_never_see_a_locked_database(lab):
    store, s = lab(FMNIST_SLOTS=2)
    ids = [jobs.submit(presets.config_for("mlp1", name=f"parallel {i}", subset=1000, epochs=4, batch_size=32), store, s)
           for i in range(2)]
    wait_for(lambda: {store.get(i).status for i in ids} == {"running"}, timeout=30)
    errors, reads, done = [], [0], threading.Event()

    def reader():  # every reader shares the one Store, as a server's sessions do
        while not done.is_set():
            try:
                for run_id in ids:
                    store.epochs(run_id)
                    store.get(run_id)
                jobs.active_runs(store)
                reads[0] += 1
            except Exception as exc:  # noqa: BLE001 - any error is the finding
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: all(store.get(i).status == "finished" for i in ids), timeout=240)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == [] and reads[0] > 10
    assert all(len(store.epochs(i)) == 4 for i in ids) and store.integrity_ok()


def test_a_restart_reaps_a_run_left_running_by_a_dead_pid(lab):
    store, s = lab(supervise=False)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    handle = handle_of(gone.pid)
    gone.wait()
    run_id = store.create_run(presets.config_for("mlp1", **TINY))
    start_by_hand(store, run_id, gone.pid, None, executor="local", handle=handle)
    fresh = Store(s.db_path)  # as a restarted server would open it, with a supervisor of its own
    assert supervisor.Supervisor(fresh, s, LocalExecutor(s)).step() is True
    assert fresh.get(run_id).status == "failed" and fresh.get(run_id).error.startswith("worker died")


def test_reading_runs_never_changes_them(lab):
    store, s = lab(supervise=False)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    handle = handle_of(gone.pid)
    gone.wait()
    dead = store.create_run(presets.config_for("mlp1", **TINY))
    start_by_hand(store, dead, gone.pid, None, executor="local", handle=handle)
    waiting = jobs.submit(presets.config_for("mlp1", name="waiting", **TINY), store, s)
    before = [store.get(i) for i in (dead, waiting)]
    assert [r.id for r in jobs.active_runs(store)] == [dead, waiting]  # running first, then the queue
    time.sleep(1.5)
    assert [store.get(i) for i in (dead, waiting)] == before  # no supervisor: nothing moved


def test_only_one_supervisor_holds_the_store(lab):
    store, s = lab(supervise=False)
    first = supervisor.Supervisor(store, s, LocalExecutor(s))
    second = supervisor.Supervisor(Store(s.db_path), s, LocalExecutor(s))
    assert first.step() is True and second.step() is False and first.step() is True
    store.release_lease(supervisor.LEASE, first.holder)  # the first server shut down
    assert second.step() is True and first.step() is False


def test_a_hung_worker_without_heartbeat_is_killed_and_failed(lab):
    store, s = lab(supervise=False, FMNIST_HEARTBEAT_TIMEOUT=5)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_id = store.create_run(presets.config_for("mlp1", **TINY))
        start_by_hand(store, run_id, sleeper.pid, None, executor="local", handle=handle_of(sleeper.pid))
        with store.write() as c:
            c.execute(schema.runs.update().where(schema.runs.c.id == run_id).values(heartbeat=time.time() - 30))
        supervisor.reap(store, s, LocalExecutor(s))
        assert store.get(run_id).error == "no heartbeat for 5 s"
        assert sleeper.wait(timeout=5) == -signal.SIGKILL
    finally:
        sleeper.kill()


def test_a_run_busy_outside_any_callback_keeps_beating_and_is_not_reaped(lab, monkeypatch):
    """A foreground `train` has no worker thread of its own: runner.beating covers its quiet phases (refit, saving)."""
    from fmnist import runner
    monkeypatch.setattr(runner, "BEAT_S", 0.2)
    store, s = lab(supervise=False, FMNIST_HEARTBEAT_TIMEOUT=1)
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", **TINY))
    with runner.beating(store, run_id):
        time.sleep(2.5)  # longer than the heartbeat timeout, with no epoch or callback
        assert supervisor.reap(store, s, LocalExecutor(s)) == []
        assert time.time() - store.get(run_id).heartbeat < 1
    assert store.get(run_id).status == "running"


def test_queue_cap_refuses_and_writes_nothing(lab):
    store, s = lab(supervise=False, FMNIST_QUEUE_CAP=2)
    for i in range(2):
        store.create_run(presets.config_for("mlp1", name=f"waiting {i}", **TINY))
    with pytest.raises(QueueFull, match="queue is full"):
        jobs.submit(presets.config_for("mlp1", name="one too many", **TINY), store, s)
    assert store.count() == 2


def test_per_user_cap(lab):
    store, s = lab(supervise=False, FMNIST_ACTIVE_PER_USER=1, FMNIST_QUEUE_CAP=10)
    store.create_run(presets.config_for("mlp1", user="ada", **TINY))
    with pytest.raises(QueueFull, match="'ada'"):
        jobs.submit(presets.config_for("mlp1", user="ada", name="again", **TINY), store, s)
    assert store.count(user="ada") == 1


def test_double_submit_creates_one_run(lab):
    store, s = lab()
    config = presets.config_for("mlp1", user="bob", **TINY)
    first, second = jobs.submit(config, store, s), jobs.submit(config, store, s)
    assert first == second and store.count() == 1
    wait_for(lambda: status_of(store, s, first) == "finished")


def test_a_worker_that_raises_fails_with_a_one_line_reason(lab, tmp_path):
    store, s = lab()
    config = presets.config_for("resnet", **TINY)
    config = config.with_(model=dataclasses.replace(config.model, weights=str(tmp_path / "missing.h5")))
    run_id = jobs.submit(config, store, s)
    wait_for(lambda: status_of(store, s, run_id) == "failed")
    error = store.get(run_id).error
    assert "missing.h5 does not exist" in error and "\n" not in error
    assert "Traceback" in (s.logs_dir / f"run-{run_id}.log").read_text()


def test_a_worker_whose_loss_goes_nan_fails_with_advice(lab):
    store, s = lab()
    config = presets.config_for("mlp1", subset=500, epochs=3, batch_size=32, optimizer="sgd", learning_rate=1.0)
    config = config.with_(model=dataclasses.replace(config.model, dense=(1024, 1024, 1024)))
    run_id = jobs.submit(config, store, s)
    wait_for(lambda: status_of(store, s, run_id) == "failed")
    assert store.get(run_id).error == "loss became NaN at epoch 1; lower the learning rate"


def test_time_limit_stops_a_run_with_that_reason(lab):
    store, s = lab(FMNIST_RUN_TIME_LIMIT=3)
    run_id = jobs.submit(presets.config_for("mlp1", subset=3000, epochs=200, batch_size=32), store, s)
    wait_for(lambda: status_of(store, s, run_id) == "stopped", timeout=60)
    assert store.get(run_id).error == "time limit of 3 s reached"
