"""fmnist.instructor: each classroom action changes the store or the round, and says so in one line."""
from __future__ import annotations

import os

import pytest

from fmnist import classroom, instructor
from fmnist.jobs import NoSuchRun


def _finished(store, run_factory, name, user, val, test):
    run = run_factory("mlp1", name=name, user=user, status="running")
    store.finish(run.id, {"train_acc": val + 0.03, "val_acc": val, "test_acc": test})
    return run.id


def test_reveal_then_a_new_round(store, workspace, run_factory):
    best = _finished(store, run_factory, "ana best", "ana", 0.91, 0.90)
    said = instructor.reveal(store, workspace)
    assert said == "Test accuracy revealed; one look at the test set was counted for each best run shown."
    assert store.get(best).test_views == 1
    assert classroom.leaderboard(store, classroom.current_round(store))["Test accuracy"].tolist() == [0.90]
    said = instructor.new_round(store, workspace)
    assert said == "A new round began: the leaderboard counts runs started from now."
    rnd = classroom.current_round(store)
    assert rnd.revealed_at is None and classroom.leaderboard(store, rnd).empty


def test_stopping_a_queued_and_a_running_run(store, workspace, run_factory):
    queued = run_factory("cnn1", name="waiting").id
    running = run_factory("cnn1", name="live", status="running").id
    store.mark_running(running, os.getpid())
    assert instructor.stop_run(store, workspace, queued) == f"Run #{queued} is stopped."
    assert store.get(queued).status == "stopped"
    answer = instructor.stop_run(store, workspace, running)
    assert answer == f"Run #{running} was asked to stop; it ends within seconds."
    assert store.get(running).status == "running" and store.stop_requested(running)
    with pytest.raises(NoSuchRun):
        instructor.stop_run(store, workspace, 999)


def test_clearing_the_queue_counts_what_it_stopped(store, workspace, run_factory):
    ids = [run_factory("mlp1", name=f"q{i}").id for i in range(3)]
    assert instructor.clear_queue(store, workspace) == "The queue was cleared: 3 waiting run(s) stopped."
    assert [store.get(i).status for i in ids] == ["stopped"] * 3
    assert instructor.clear_queue(store, workspace) == "The queue was cleared: 0 waiting run(s) stopped."


def test_a_cap_set_and_taken_back(store, workspace):
    assert instructor.set_cap(store, workspace, "bo", 1) == "bo may have 1 active run(s)."
    assert store.user_caps() == {"bo": 1}
    assert instructor.set_cap(store, workspace, "bo", None) == "bo is back to the default cap."
    assert store.user_caps() == {}
    with pytest.raises(classroom.ClassroomError, match="Choose a student first"):
        instructor.set_cap(store, workspace, " ", 2)

