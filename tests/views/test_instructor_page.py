"""The instructor page under AppTest: the password, the leaderboard and its reveal, stopping runs, the queue, caps."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist import classroom, summary

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "instructor.py")
PASSWORD = "projector-2026"


@pytest.fixture(scope="module")
def password_hash():
    return classroom.hash_password(PASSWORD)


@pytest.fixture
def class_on(monkeypatch, password_hash):
    monkeypatch.setenv(classroom.INSTRUCTOR_KEY, password_hash)


@pytest.fixture
def room(store, run_factory):
    """ana: two finished runs; bo: one finished, one running (this process: alive) and one queued."""
    made = {}
    for name, user, val, test in [("ana small", "ana", 0.85, 0.84), ("ana best", "ana", 0.91, 0.90),
                                  ("bo best", "bo", 0.88, 0.87)]:
        run = run_factory("mlp1", name=name, user=user, status="running")
        store.finish(run.id, {"train_acc": val + 0.03, "val_acc": val, "test_acc": test})
        made[name] = store.get(run.id)
    made["bo live"] = run_factory("cnn1", name="bo live", user="bo", status="running")
    store.mark_running(made["bo live"].id, os.getpid())
    made["bo waiting"] = run_factory("cnn2", name="bo waiting", user="bo")
    return made


def unlocked(tab: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if tab:
        at.query_params["instructor_tab"] = tab
    at.run()
    at.text_input(key="instructor_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def button(at, label):
    return next(b for b in at.button if b.label.startswith(label))


def test_without_the_setting_the_page_says_how_to_turn_it_on(monkeypatch):
    monkeypatch.delenv(classroom.INSTRUCTOR_KEY, raising=False)
    at = AppTest.from_file(PAGE).run()
    assert at.info[0].value.startswith("Classroom mode is off. Set FMNIST_INSTRUCTOR_PASSWORD_HASH")
    assert not at.text_input


def test_a_wrong_password_keeps_it_locked(class_on, room):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.text_input(key="instructor_password").input("projector-2025")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["That is not the instructor password."]
    assert not at.dataframe and at.text_input(key="instructor_password").value == ""


def test_leaderboard_then_the_reveal_at_the_end_of_the_round(class_on, room, store):
    at = unlocked()
    board = at.dataframe[0].value
    assert board[["Student", "Model"]].values.tolist() == [["ana", "ana best"], ["bo", "bo best"]]
    assert board["Test accuracy"].tolist() == [summary.LOCKED] * 2
    button(at, "Reveal test accuracy").click().run()
    assert at.success[0].value.startswith("Test accuracy revealed")
    assert at.dataframe[0].value["Test accuracy"].tolist() == ["90.00%", "87.00%"]
    assert button(at, "Reveal test accuracy").disabled
    assert [store.get(room[n].id).test_views for n in ("ana small", "ana best", "bo best")] == [0, 1, 1]
    button(at, "Start a new round").click().run()
    assert at.dataframe[0].value.empty


def test_every_run_stop_one_and_clear_the_queue(class_on, room, store):
    at = unlocked("Every run")
    assert at.dataframe[0].value["Model"].tolist() == ["bo waiting", "bo live", "bo best", "ana best", "ana small"]
    at.multiselect(key="students").set_value(["ana"]).run()
    assert at.dataframe[0].value["User"].tolist() == ["ana", "ana"]
    live = room["bo live"]
    at.button(key=f"stop_{live.id}").click().run()
    assert at.success[0].value == f"Run #{live.id} was asked to stop; it ends within seconds."
    assert store.get(live.id).stop_requested_at is not None
    button(at, "Clear the queue (1 waiting)").click().run()
    assert at.success[0].value == "The queue was cleared: 1 waiting run(s) stopped."
    waiting = store.get(room["bo waiting"].id)
    assert (waiting.status, waiting.error) == ("stopped", "queue cleared by the instructor")
    assert button(at, "Clear the queue (0 waiting)").disabled


def test_caps_per_student(class_on, room, store, workspace):
    at = unlocked("Caps")
    assert at.dataframe[0].value.values.tolist() == [["ana", 0, workspace.active_per_user, "default"],
                                                     ["bo", 2, workspace.active_per_user, "default"]]
    at.selectbox(key="cap_user").set_value("bo")
    at.number_input(key="cap_value").set_value(1).run()
    button(at, "Set this cap").click().run()
    assert at.success[0].value == "bo may have 1 active run(s)."
    assert store.user_caps() == {"bo": 1}
    assert at.dataframe[0].value.values.tolist()[1] == ["bo", 2, 1, "instructor"]
    button(at, "Back to the default").click().run()
    assert store.user_caps() == {} and at.success[0].value == "bo is back to the default cap."
