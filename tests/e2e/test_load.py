"""A class on one server (issue 10): eight browser sessions for 20 s against a real server while two runs
train, through the load benchmark's own code. Correctness only: the figures are the benchmark's business."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from fmnist.bench import load

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CACHE = Path(os.environ.get("FMNIST_E2E_CACHE", REPO / ".fmnist" / "cache"))


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    if why := load.missing_tools():
        pytest.skip(why)
    if not Path("/usr/share/datasets/fashion-mnist").is_dir() and not os.environ.get("FMNIST_DATA_DIR") \
            and not (CACHE / load.CACHE_FILE).exists():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    home = tmp_path_factory.mktemp("load-home")
    # a shared CI machine may be slow: a page gets three minutes before it counts as never finished
    size = load.ClassSize(sessions=8, seconds=20, open_timeout_s=180)
    return load.measure(home, size, cache_from=CACHE, shots=ARTIFACTS), home


def test_no_page_shows_an_error_and_the_server_logs_no_traceback(classroom):
    result, _ = classroom
    found = load.problems(result)
    assert {k: v for k, v in found.items() if v} == {}
    assert result["worker_tracebacks"] == []


def test_every_session_ran_and_the_live_runs_stayed_alive(classroom):
    result, _ = classroom
    sessions = result["sessions"]
    assert len(sessions) == 8 and all(s["opens"].get("train") for s in sessions)  # each opened a live run
    assert set(result["runs"].values()) == {"stopped"}  # trained until the end, stopped by the test, none died


def test_the_live_panel_refreshed_while_sessions_watched(classroom):
    result, _ = classroom
    watched = [s for s in result["sessions"] if s["watched"]]
    assert watched and sum(len(s["refresh_s"]) for s in watched) >= len(watched)
    assert any(first != last and "Epoch" in last for s in watched for first, last in s["progress"]), \
        "no session saw its run's progress move"


def test_the_server_log_is_read_for_tracebacks():
    log = ("INFO ok\nTraceback (most recent call last):\n  File \"x.py\", line 1, in f\n    g()\n"
           "sqlite3.OperationalError: database is locked\nINFO after\n")
    expected = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n    g()\n"
                "sqlite3.OperationalError: database is locked")
    assert load.tracebacks(log) == [expected]
    assert load.tracebacks("INFO nothing wrong\n") == []
