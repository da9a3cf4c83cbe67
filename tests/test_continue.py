"""Continue a run: a finished Keras run's saved model trained N more epochs as a new run naming its parent;
epochs numbered after the parent's; one history; the CSV's Continues column; runs that cannot continue."""
from __future__ import annotations

import pytest

from fmnist import continuing, jobs, presets, runner, summary
from fmnist.config import ConfigError
from tests.playing import start_by_hand

TINY = dict(subset=1000, epochs=2, batch_size=64)


def execute_queued(store, s, run_id) -> str:
    """What the supervisor and a worker do, in this process."""
    assert start_by_hand(store, run_id, executor="local", handle="in-process")
    return runner.execute(store, s, run_id)


@pytest.fixture
def parent(cached_lab):
    store, s = cached_lab
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", name="base net", **TINY))
    assert runner.execute(store, s, run_id) == "finished"
    return store.get(run_id)


def test_a_continued_run_starts_from_its_parents_model_and_numbers_epochs_after_it(cached_lab, parent):
    store, s = cached_lab
    child_id = continuing.submit(parent.id, 2, store, s)
    child = store.get(child_id)
    assert child.parent_id == parent.id and child.name == "base net +2 epochs"
    assert child.run_config().initial_epoch == 2 and child.run_config().epochs == 2
    assert execute_queued(store, s, child_id) == "finished"
    child = store.get(child_id)
    rows = store.epochs(child_id)
    assert [r["epoch"] for r in rows] == [3, 4] and child.epochs == 4 and child.best_epoch in (3, 4)
    # from trained weights, its first epoch's loss is far below the parent's first (from random weights)
    parent_rows = store.epochs(parent.id)
    assert rows[0]["loss"] < parent_rows[0]["loss"] * 0.8
    history = continuing.history(store, child)
    expected = [(parent.id, 1), (parent.id, 2), (child_id, 3), (child_id, 4)]
    assert [(r["run_id"], r["epoch"]) for r in history] == expected
    assert continuing.starts(store, child) == {2: child_id}
    frame = summary.frame_of(store.runs())
    assert frame.set_index("Run").loc[child_id, "Continues"] == parent.id
    assert pd_isna(frame.set_index("Run").loc[parent.id, "Continues"])
    # a continuation of the continuation reads as one history of three runs
    grandchild = continuing.submit(child_id, 1, store, s)
    assert execute_queued(store, s, grandchild) == "finished"
    chain = continuing.history(store, store.get(grandchild))
    assert [r["epoch"] for r in chain] == [1, 2, 3, 4, 5] and chain[-1]["run_id"] == grandchild


def pd_isna(value) -> bool:
    import pandas as pd
    return bool(pd.isna(value))


def test_a_damaged_parent_model_fails_the_child_with_the_reason(cached_lab, parent):
    store, s = cached_lab
    child_id = continuing.submit(parent.id, 1, store, s)
    with open(parent.model_path, "ab") as fh:
        fh.write(b"tampered")
    assert execute_queued(store, s, child_id) == "failed"
    assert "does not match its recorded SHA-256" in store.get(child_id).error
    assert store.epochs(child_id) == []


def test_runs_that_cannot_continue_say_why(cached_lab, run_factory):
    store, s = cached_lab
    forest = run_factory("forest", status="running")
    store.finish(forest.id, {"val_acc": 0.8})
    with pytest.raises(ConfigError, match="baseline: only a Keras network"):
        continuing.submit(forest.id, 2, store, s)
    queued = run_factory("mlp1")
    with pytest.raises(ConfigError, match=f"Run {queued.id} is still queued"):
        continuing.submit(queued.id, 2, store, s)
    stopped = run_factory("mlp1", status="running")
    store.mark_stopped(stopped.id)
    with pytest.raises(ConfigError, match="has no saved model"):
        continuing.submit(stopped.id, 2, store, s)
    with pytest.raises(ConfigError, match="continue for 1 to 200 more epochs"):
        continuing.submit(stopped.id, 0, store, s)
    with pytest.raises(jobs.NoSuchRun, match="There is no run 999"):
        continuing.submit(999, 2, store, s)
    assert store.count(statuses=("queued",)) == 1  # only the one made above: nothing was queued
