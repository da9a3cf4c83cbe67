"""The app shell (app.py) under AppTest: what a broken setting or workspace shows instead of the pages."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_the_shell_opens_on_the_home_page(workspace):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.title[0].value.endswith("Fashion-MNIST Lab")


@pytest.mark.parametrize("env, message", [
    ({"FMNIST_SLOTS": "two"}, "FMNIST_SLOTS='two' is not a whole number; unset it or give one."),
    ({"FMNIST_HOME": "/proc/no-such-workspace"},
     "The workspace /proc/no-such-workspace cannot be created or written (No such file or directory); "
     "set FMNIST_HOME to a folder you can write to."),
])
def test_a_bad_setting_is_explained_and_nothing_else_runs(workspace, monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [message]
    assert not at.title  # the page itself never ran
