"""Settings from the environment: the per-run thread budget, the slots it leaves, the workers' priority."""
from __future__ import annotations

import pytest

from fmnist import settings as settings_mod


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 2), (3, 3), (4, 2), (7, 3), (8, 4), (64, 4)])
def test_a_runs_thread_budget_follows_the_cores(cpus, threads):
    assert settings_mod.default_threads(cpus) == threads


def test_slots_are_the_cores_divided_by_the_budget(monkeypatch):
    monkeypatch.setattr(settings_mod.os, "cpu_count", lambda: 8)
    for name in ("FMNIST_SLOTS", "FMNIST_THREADS_PER_RUN"):
        monkeypatch.delenv(name, raising=False)
    assert (settings_mod.load().threads_per_run, settings_mod.load().slots) == (4, 2)
    monkeypatch.setenv("FMNIST_THREADS_PER_RUN", "1")
    assert settings_mod.load().slots == 8


@pytest.mark.parametrize(("raw", "nice"), [(None, 10), ("0", 0), ("5", 5), ("40", 19), ("-3", 0)])
def test_workers_nice_is_kept_within_what_unix_allows(monkeypatch, raw, nice):
    if raw is None:
        monkeypatch.delenv("FMNIST_WORKER_NICE", raising=False)
    else:
        monkeypatch.setenv("FMNIST_WORKER_NICE", raw)
    assert settings_mod.load().worker_nice == nice


def test_a_worker_nice_that_is_not_a_number_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("FMNIST_WORKER_NICE", "low")
    with pytest.raises(settings_mod.SettingsError, match="FMNIST_WORKER_NICE"):
        settings_mod.load()
