"""Sweeps: the search space from a user's words, a real grid sweep through the supervisor, a study that
survives reopening, pruning of a poor trial, pause and resume (trials driven by hand where timing matters)."""
from __future__ import annotations

import dataclasses
import shutil
import time

import pytest

from fmnist import presets, settings as settings_mod, supervisor, sweep_results, sweep_spec, sweep_store, sweeps
from fmnist.store import Store
from tests.playing import start_by_hand

TINY = dict(subset=500, epochs=1, batch_size=64)


@pytest.fixture
def lab(workspace, monkeypatch):
    """(store, settings) with one training slot and no supervisor: tests drive `advance` themselves."""
    monkeypatch.setenv("FMNIST_SLOTS", "1")
    s = settings_mod.load()
    sweeps._storages.clear()  # each test's workspace has its own optuna.db
    store = Store.open(s)
    yield store, s
    store.close()


def simulate(store, run_id, vals, final=None):
    """Play a worker: claim the queued run, write its epochs' validation accuracy, finish it."""
    assert start_by_hand(store, run_id, executor="local", handle="simulated")
    for epoch, val in enumerate(vals, 1):
        store.add_epoch(run_id, epoch, {"val_accuracy": val, "accuracy": val})
    if final is not False:
        store.finish(run_id, {"val_acc": vals[-1], "train_acc": vals[-1], "epochs": len(vals)})


def queued_ids(store, sweep_id):
    return [r.id for r in store.runs(statuses=("queued",), sweep_id=sweep_id, order="id")]


def test_a_grid_sweep_of_two_trials_runs_through_the_supervisor(workspace, monkeypatch, dataset_cache):
    monkeypatch.setenv("FMNIST_SLOTS", "1")
    s = settings_mod.load()
    shutil.copy(dataset_cache, s.cache_dir / dataset_cache.name)
    sweeps._storages.clear()
    store = Store.open(s)
    spec = sweep_spec.make_spec(presets.config_for("mlp1", **TINY), grid={"learning_rate": [0.001, 0.01]})
    sweep_id = sweeps.create(store, s, spec, name="lr sweep")
    sup = supervisor.Supervisor(store, s).start()
    try:
        deadline = time.time() + 300
        while sweep_store.get_sweep(store, sweep_id).status != "done":
            assert time.time() < deadline, sweep_results.summary_line(store, s, sweep_store.get_sweep(store, sweep_id))
            time.sleep(0.5)
    finally:
        sup.stop()
    sweep = sweep_store.get_sweep(store, sweep_id)
    runs = store.runs(sweep_id=sweep_id, order="id")
    assert [r.status for r in runs] == ["finished", "finished"]
    assert sorted(r.run_config().learning_rate for r in runs) == [0.001, 0.01]
    assert all(r.name.startswith("lr sweep · trial ") for r in runs)
    frame = sweep_results.trials_frame(store, s, sweep)
    assert frame["State"].tolist() == ["finished", "finished"]
    assert frame.set_index("Run")["Val accuracy"].to_dict() == {r.id: r.val_acc for r in runs}
    best = sweep_results.best(s, sweep)
    top = max(runs, key=lambda r: r.val_acc)
    assert best.run_id == top.id and best.value == top.val_acc
    assert best.params == {"learning_rate": top.run_config().learning_rate}
    assert best.text().startswith(f"Best: trial {best.trial} (run #{top.id})")  # done: no "so far"
    running = sweep_results.best(s, dataclasses.replace(sweep, status="active"))
    assert running.text().startswith(f"Best so far: trial {best.trial} (run #{top.id})")

    store.close()  # a restart: new store, new Optuna storage, the same study and trials
    sweeps._storages.clear()
    again = Store.open(settings_mod.load())
    reopened = sweep_results.trials_frame(again, s, sweep_store.get_sweep(again, sweep_id))
    assert reopened.equals(frame)
    assert sweeps.advance(again, s) == [] and len(again.runs(sweep_id=sweep_id)) == 2  # done: nothing more asked
    again.close()


def test_the_median_pruner_stops_a_poor_trial(lab):
    store, s = lab
    spec = sweep_spec.make_spec(presets.config_for("mlp1", epochs=3), grid={"learning_rate": [0.001, 0.002, 0.003]},
                            prune="median")
    sweep_id = sweeps.create(store, s, spec)
    for vals in ([0.80, 0.85, 0.86], [0.82, 0.84, 0.87]):  # two good trials finish
        (run_id,) = sweeps.advance(store, s)
        simulate(store, run_id, vals)
    (poor,) = sweeps.advance(store, s)
    simulate(store, poor, [0.30], final=False)
    assert sweeps.advance(store, s) == []
    assert store.get(poor).stop_requested_at is not None  # the pruner gave up on it: its worker is asked to stop
    store.mark_stopped(poor, "stopped by request", {"val_acc": 0.30, "epochs": 1})  # as the worker does
    assert sweeps.advance(store, s) == []
    sweep = sweep_store.get_sweep(store, sweep_id)
    frame = sweep_results.trials_frame(store, s, sweep)
    assert frame["State"].tolist() == ["finished", "finished", "pruned"]
    assert store.get(poor).error == ("pruned by the sweep at epoch 1: validation accuracy behind the earlier trials")
    assert sweep.status == "done"
    good = store.runs(sweep_id=sweep_id, order="id")[:2]
    assert all(r.stop_requested_at is None for r in good)


def test_a_paused_sweep_retries_its_interrupted_trial_on_resume(lab):
    store, s = lab
    spec = sweep_spec.make_spec(presets.config_for("mlp1", **TINY), grid={"learning_rate": [0.001, 0.01]})
    sweep_id = sweeps.create(store, s, spec)
    (first,) = sweeps.advance(store, s)
    assert sweeps.stop(store, s, sweep_id) == 1
    assert store.get(first).status == "stopped" and sweep_store.get_sweep(store, sweep_id).status == "stopped"
    assert sweeps.advance(store, s) == []  # paused: nothing asked
    assert sweeps.resume(store, s, sweep_id)
    (retry,) = sweeps.advance(store, s)
    assert store.get(retry).run_config().learning_rate == store.get(first).run_config().learning_rate
    simulate(store, retry, [0.8])
    (second,) = sweeps.advance(store, s)
    assert store.get(second).run_config().learning_rate != store.get(first).run_config().learning_rate
    simulate(store, second, [0.7])
    sweeps.advance(store, s)
    assert sweep_store.get_sweep(store, sweep_id).status == "done"
    assert len(store.runs(sweep_id=sweep_id)) == 3  # the interrupted one did not count towards the two trials


def test_a_broken_sweep_never_breaks_the_supervisors_tick(lab, caplog):
    store, s = lab
    sweep_store.create_sweep(store, "broken", {"study": "no such study", "grid": {}, "ranges": {}, "sampler": "grid",
                                               "trials": 1, "seed": 1, "base": {}})
    from fmnist import jobs
    run_id = jobs.submit(presets.config_for("mlp1", **TINY), store, s)
    from fmnist.executors.local import LocalExecutor

    class NoStart(LocalExecutor):
        def start(self, run_id):
            return "not started"
    reaped, started = supervisor.tick(store, s, NoStart(s))
    assert started == [run_id] and "advancing the sweeps failed" in caplog.text
