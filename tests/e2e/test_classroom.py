"""Classroom mode in Chromium: an instructor and a student side by side, in two browser contexts of one server.

The student gives the class password once (a reload does not ask again), types a name that stays through a
reload and a new tab, and sees test accuracy locked; the instructor unlocks the Instructor page, sees the
leaderboard, caps a student and reveals the round's test accuracy, which the student then sees too."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fmnist import classroom, presets, settings, summary
from fmnist.store import Store
from tests.e2e.conftest import screenshot, wait_for_app
from tests.servers import streamlit_app

INSTRUCTOR, CLASS = "projector-2026", "fashion-class"


@pytest.fixture(scope="module")
def class_server(tmp_path_factory, browser):
    """A server of its own with classroom mode on, its store holding two students' finished runs."""
    home = tmp_path_factory.mktemp("classroom-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FMNIST_HOME", str(home))
        lab = settings.load()
    lab.ensure_dirs()
    store = Store(lab.db_path)
    ids = {}
    for name, user, val, test in [("ana mlp", "ana", 0.872, 0.861), ("ana cnn", "ana", 0.905, 0.897),
                                  ("bo forest", "bo", 0.851, 0.842)]:
        run_id = store.create_run(presets.config_for("mlp1", name=name, user=user), status="running")
        store.finish(run_id, {"train_acc": val + 0.03, "val_acc": val, "test_acc": test, "params": 1000,
                              "epochs": 3, "seconds": 4.0})
        ids[name] = run_id
    env = {classroom.INSTRUCTOR_KEY: classroom.hash_password(INSTRUCTOR), classroom.CLASS_KEY:
           classroom.hash_password(CLASS)}
    try:
        with streamlit_app(home, home / "streamlit.log", **env) as url:
            yield url, store, ids
    finally:
        store.close()
    assert b"Traceback" not in (home / "streamlit.log").read_bytes()


def _context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    return context


def _csv_test_column(page, store, run_id):
    """What the student's Results table says for one run's test accuracy (the CSV holds the table as shown)."""
    with page.expect_download() as info:
        page.get_by_role("button", name="Download this table as CSV").click()
    import csv
    rows = list(csv.DictReader(open(info.value.path(), encoding="utf-8")))
    return next(r["Test accuracy"] for r in rows if r["Run"] == str(run_id))


def test_instructor_and_student_side_by_side(browser, class_server):
    url, store, ids = class_server
    student_ctx, teacher_ctx = _context(browser), _context(browser)
    student, teacher = student_ctx.new_page(), teacher_ctx.new_page()

    # The student: the class password once, then a name that stays.
    student.goto(url)
    student.get_by_label("Class password", exact=True).fill("wrong guess")
    student.get_by_role("button", name="Join the class").click()
    student.get_by_text("That is not the class password.").wait_for()
    student.get_by_label("Class password", exact=True).fill(CLASS)
    student.get_by_role("button", name="Join the class").click()
    student.get_by_text("Why accuracy?").wait_for()
    assert student.get_by_test_id("stSidebarNav").get_by_role("link", name="Instructor").count() == 1  # locked
    name = student.get_by_label("Your name", exact=True)
    name.fill("ana")
    name.press("Enter")
    wait_for_app(student)
    student.wait_for_function("() => document.cookie.includes('fmnist_user=ana')")  # the browser keeps it
    student.reload()
    student.get_by_text("Why accuracy?").wait_for()  # no class password asked again
    expect(student.get_by_label("Your name", exact=True)).to_have_value("ana", timeout=30_000)
    other_tab = student_ctx.new_page()
    other_tab.goto(url + "/results")
    other_tab.get_by_role("button", name="Download this table as CSV").wait_for()
    assert other_tab.get_by_label("Your name", exact=True).input_value() == "ana"
    other_tab.close()

    student.get_by_test_id("stSidebarNav").get_by_role("link", name="Results", exact=True).click()
    student.get_by_role("button", name="Download this table as CSV").wait_for()
    wait_for_app(student)
    assert student.get_by_role("button", name="Reveal every test score").count() == 0  # the instructor's call
    assert _csv_test_column(student, store, ids["ana cnn"]) == summary.LOCKED
    screenshot(student, "classroom-student-before")

    # The instructor: unlock, the leaderboard with test accuracy locked, a cap for bo, then the reveal.
    teacher.goto(url)
    teacher.get_by_label("Class password", exact=True).fill(CLASS)
    teacher.get_by_role("button", name="Join the class").click()
    teacher.get_by_test_id("stSidebarNav").get_by_role("link", name="Instructor").click()
    teacher.get_by_label("Instructor password", exact=True).fill(INSTRUCTOR)
    teacher.get_by_role("button", name="Unlock").click()
    teacher.get_by_role("button", name="Reveal test accuracy (end of round)").wait_for()
    wait_for_app(teacher)
    screenshot(teacher, "classroom-instructor-leaderboard")
    teacher.get_by_role("tab", name="Caps").click()
    teacher.get_by_role("button", name="Set this cap").wait_for()
    teacher.get_by_label("Student", exact=True).click()
    teacher.get_by_role("option", name="bo").click()
    wait_for_app(teacher)
    cap = teacher.get_by_label("Cap", exact=True)
    cap.fill("1")
    cap.press("Enter")
    wait_for_app(teacher)
    teacher.get_by_role("button", name="Set this cap").click()
    teacher.get_by_text("bo may have 1 active run(s).").wait_for()
    assert store.user_caps() == {"bo": 1}
    teacher.get_by_role("button", name="Set this cap").wait_for()  # the form is back under the message
    wait_for_app(teacher)
    screenshot(teacher, "classroom-instructor-caps")
    teacher.get_by_role("tab", name="Leaderboard").click()
    teacher.get_by_role("button", name="Reveal test accuracy (end of round)").click()
    teacher.get_by_text("Test accuracy revealed").wait_for()
    teacher.get_by_role("button", name="Start a new round").wait_for()
    assert teacher.get_by_role("button", name="Reveal test accuracy (end of round)").is_disabled()
    wait_for_app(teacher)
    screenshot(teacher, "classroom-instructor-revealed")
    assert store.get(ids["ana cnn"]).test_views == 1 and store.get(ids["bo forest"]).test_views == 1
    assert store.get(ids["ana mlp"]).test_views == 0  # not a best run: still locked

    # The student, after a reload: the revealed best run shows its test accuracy; the other stays locked.
    student.reload()
    student.get_by_role("button", name="Download this table as CSV").wait_for()
    wait_for_app(student)
    assert float(_csv_test_column(student, store, ids["ana cnn"])) == pytest.approx(0.897)
    assert _csv_test_column(student, store, ids["ana mlp"]) == summary.LOCKED
    screenshot(student, "classroom-student-after")
    student_ctx.close()
    teacher_ctx.close()
