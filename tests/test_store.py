"""fmnist.store: write-then-read round trips on a fresh SQLite file per test."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from fmnist import migrations, presets, schema, store as store_mod
from fmnist.store import RunGone, Store, StoreError
from tests.servers import store_on_both  # noqa: F401 - `store`, on SQLite and on PostgreSQL


def sqlite_only(store):
    if store.dialect != "sqlite":
        pytest.skip("checks a property of SQLite's file (PRAGMAs, pages); PostgreSQL has no such file")


RESULT = dict(train_acc=0.95, val_acc=0.88, test_acc=0.87, params=202_735, epochs=2, seconds=12.5,
              best_epoch=2, stopped_early=0, model_path="/m/run.keras", model_sha256="ab" * 32)
E1 = dict(loss=0.9, accuracy=0.7, val_loss=0.8, val_accuracy=0.72, seconds=1.5)
E2 = dict(loss=0.5, accuracy=0.82, val_loss=0.6, val_accuracy=0.8, seconds=1.25)


def test_full_life_of_a_run(store, run_factory):
    run = run_factory("mlp1", epochs=2, subset=300, user="ana")
    assert run.status == "queued" and run.active
    assert run.name == "Single hidden layer" and run.preset == "mlp1" and run.kind == "mlp" and run.user == "ana"
    assert run.run_config() == presets.config_for("mlp1", epochs=2, subset=300, user="ana")
    assert run.started_at is None and run.epochs is None

    assert store.claim_next(slots=1, executor="local") == [run.id]
    assert store.claim_next(slots=1, executor="local") == []  # its slot is taken, and it is no longer queued
    store.mark_running(run.id, pid=4242, proc_start=123.5)  # the worker confirms
    running = store.get(run.id)
    assert (running.status, running.pid, running.proc_start) == ("running", 4242, 123.5)
    assert running.started_at is not None and running.heartbeat is not None

    store.add_epoch(run.id, 1, E1)
    store.add_epoch(run.id, 2, E2)
    rows = store.epochs(run.id)
    assert metrics(rows) == [{"epoch": 1, **E1}, {"epoch": 2, **E2}]
    assert store.epochs_since(run.id, 1) == rows[1:]
    assert store.get(run.id).epochs == 2

    store.finish(run.id, RESULT)
    done = store.get(run.id)
    assert done.status == "finished" and not done.active and done.error is None
    assert done.ended_at >= done.started_at
    for key, value in RESULT.items():
        assert getattr(done, key) == value, key


def metrics(rows: list[dict]) -> list[dict]:
    """Epoch rows without the time each was written."""
    return [{k: v for k, v in r.items() if k != "ended_at"} for r in rows]


def test_epochs_come_back_in_epoch_order(store, run_factory):
    run = run_factory(status="running")
    for epoch in (3, 1, 2):
        store.add_epoch(run.id, epoch, {"loss": float(epoch), "accuracy": None})
    before = time.time()
    rows = store.epochs(run.id)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[2]["ended_at"] <= rows[0]["ended_at"] <= rows[1]["ended_at"]  # written in the order 3, 1, 2
    assert all(before - 60 < r["ended_at"] <= before for r in rows)  # when each row was written
    assert [r["loss"] for r in rows] == [1.0, 2.0, 3.0]
    assert all(r["accuracy"] is None and r["val_loss"] is None for r in rows)
    store.add_epoch(run.id, 2, {"loss": 9.0})  # a repeated epoch replaces the row
    assert [r["loss"] for r in store.epochs(run.id)] == [1.0, 9.0, 3.0]


def _insert_raw(store, status):
    with store.write() as c:
        c.execute(schema.runs.insert().values(name="x", preset="mlp1", kind="mlp", config="{}", status=status,
                                              created_at=0))


def test_status_check_constraint_rejects_a_bogus_status(store):
    with pytest.raises(StoreError, match="(?i)check constraint"):
        _insert_raw(store, "exploded")
    assert store.count() == 0
    for status in store_mod.STATUSES:  # every real status is accepted
        _insert_raw(store, status)
    assert store.count() == len(store_mod.STATUSES)


def test_late_writes_after_mark_failed_raise_run_gone(store, run_factory):
    run = run_factory(status="running")
    store.add_epoch(run.id, 1, E1)
    assert store.mark_failed(run.id, "worker vanished") is True
    assert store.mark_failed(run.id, "again") is False  # already ended
    with pytest.raises(RunGone):
        store.add_epoch(run.id, 2, E2)
    with pytest.raises(RunGone):
        store.finish(run.id, RESULT)
    with pytest.raises(RunGone):
        store.heartbeat(run.id)
    with pytest.raises(RunGone):
        store.mark_running(run.id, pid=5)
    after = store.get(run.id)
    assert after.status == "failed" and after.error == "worker vanished"
    assert after.train_acc is None and after.epochs == 1
    assert metrics(store.epochs(run.id)) == [{"epoch": 1, **E1}]
    assert isinstance(RunGone("x"), StoreError)


def test_mark_stopped_keeps_partial_results(store, run_factory):
    run = run_factory(status="running")
    assert store.mark_stopped(run.id, "stopped by request", {"train_acc": 0.5, "val_acc": None}) is True
    got = store.get(run.id)
    assert (got.status, got.error, got.train_acc, got.val_acc) == ("stopped", "stopped by request", 0.5, None)


def test_request_stop(store, run_factory):
    run = run_factory(status="running")
    assert store.stop_requested(run.id) is False
    store.request_stop(run.id)
    first = store.get(run.id).stop_requested_at
    assert first is not None and store.stop_requested(run.id) is True
    store.request_stop(run.id)
    assert store.get(run.id).stop_requested_at == first  # the first request's time is kept
    # an ended or deleted run counts as stop-requested: the worker must stop either way
    other = run_factory(status="running")
    store.mark_failed(other.id, "x")
    assert store.stop_requested(other.id) is True
    assert store.stop_requested(99_999) is True


def test_rename_validation(store, run_factory):
    run = run_factory()
    store.rename(run.id, "  my best run  ")
    assert store.get(run.id).name == "my best run"
    for bad in ("", "   ", "x" * 81):
        with pytest.raises(StoreError, match="1 to 80 characters"):
            store.rename(run.id, bad)
    store.rename(run.id, "y" * 80)
    assert store.get(run.id).name == "y" * 80


@pytest.mark.parametrize("status", ["queued", "running"])
def test_delete_refuses_an_active_run(store, run_factory, status):
    run = run_factory(status=status)
    with pytest.raises(StoreError, match=f"still {status}; stop it before deleting"):
        store.delete(run.id)
    assert store.get(run.id).status == status


def test_delete_removes_the_run_its_epochs_and_evaluation(store, run_factory):
    run = run_factory(status="running")
    keep = run_factory(status="running")
    for rid in (run.id, keep.id):
        store.add_epoch(rid, 1, E1)
        store.add_epoch(rid, 2, E2)
    store.finish(run.id, RESULT)
    store.save_evaluation(run.id, {"test_acc": 0.87})
    deleted = store.delete(run.id)
    assert deleted.id == run.id and deleted.status == "finished" and deleted.model_path == RESULT["model_path"]
    assert store.get(run.id) is None
    with store.engine.connect() as c:
        for table in (schema.epochs, schema.evaluations, schema.artifacts):
            assert c.execute(select(func.count()).select_from(table).where(table.c.run_id == run.id)).scalar() == 0
    assert len(store.epochs(keep.id)) == 2  # the other run's epochs stay
    assert store.delete(run.id) is None


def test_save_evaluation_round_trip(store, run_factory):
    run = run_factory(status="finished")
    assert store.evaluation(run.id) is None
    payload = {"test_acc": 0.9109, "confusion": [[1, 2], [3, 4]], "classes": ["T-shirt/top", "Trouser"],
               "per_class": {"Shirt": 0.71}, "note": None}
    store.save_evaluation(run.id, payload)
    assert store.evaluation(run.id) == payload
    store.save_evaluation(run.id, {"test_acc": 0.5})
    assert store.evaluation(run.id) == {"test_acc": 0.5}  # replaced, not duplicated
    store.count_test_view(run.id)
    store.count_test_view(run.id)
    assert store.get(run.id).test_views == 2


def test_reads_and_counts(store, run_factory):
    a = run_factory("mlp1", user="ana")
    b = run_factory("cnn1", user="bo", status="running")
    c = run_factory("forest", user="ana", status="finished")
    assert [r.id for r in store.runs()] == [c.id, b.id, a.id]
    assert [r.id for r in store.runs(("queued", "running"))] == [b.id, a.id]
    assert store.count() == 3 and store.count(("finished",)) == 1
    assert store.count(user="ana") == 2 and store.count(("queued",), user="ana") == 1


def test_data_survives_reopening(workspace, run_factory, store):
    run = run_factory(status="running")
    store.add_epoch(run.id, 1, E1)
    again = Store(store.url, create=False)
    try:
        assert again.get(run.id) == store.get(run.id)
        assert again.epochs(run.id) == store.epochs(run.id) and metrics(again.epochs(run.id)) == [{"epoch": 1, **E1}]
    finally:
        again.close()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version (version, applied_at, what) VALUES (99, 0, 'from the future')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        Store(path)


LEGACY_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, preset TEXT NOT NULL, kind TEXT NOT NULL,
    config TEXT NOT NULL, user TEXT NOT NULL DEFAULT '', dedup_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'stopped', 'failed')),
    created_at REAL NOT NULL, started_at REAL, ended_at REAL, pid INTEGER, proc_start REAL, heartbeat REAL,
    stop_requested_at REAL, error TEXT, train_acc REAL, val_acc REAL, test_acc REAL, params INTEGER, epochs INTEGER,
    seconds REAL, best_epoch INTEGER, stopped_early INTEGER, model_path TEXT, model_sha256 TEXT,
    test_views INTEGER NOT NULL DEFAULT 0);
CREATE TABLE epochs (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL,
    loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL, seconds REAL, PRIMARY KEY (run_id, epoch));
CREATE TABLE evaluations (run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    created_at REAL NOT NULL, payload TEXT NOT NULL);
INSERT INTO runs (name, preset, kind, config, status, created_at, val_acc) VALUES ('old', 'mlp1', 'mlp', '{}',
    'finished', 1, 0.88);
INSERT INTO epochs (run_id, epoch, loss) VALUES (1, 1, 0.5);
PRAGMA user_version=1;
"""


def test_a_store_from_before_the_migrations_is_upgraded_in_place(tmp_path):
    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path)
    conn.executescript(LEGACY_SCHEMA)
    conn.close()
    st = Store(path)
    try:
        old = st.get(1)
        assert (old.name, old.status, old.val_acc, old.handle, old.parent_id) == ("old", "finished", 0.88, None, None)
        assert st.epochs(1)[0]["loss"] == 0.5 and st.epochs(1)[0]["ended_at"] is None  # a version-3 column, empty
        assert st.schema_version() == migrations.LATEST
        st.set_user_cap("ana", 2)  # a version-2 table
        assert st.user_caps() == {"ana": 2}
    finally:
        st.close()


def test_many_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path):
    path = tmp_path / "runs.db"
    code = ("import sys; from fmnist.store import Store; s = Store(sys.argv[1]); "
            "print(s.schema_version()); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6 and set(outs) == {str(migrations.LATEST)}
    conn = sqlite3.connect(path)
    try:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    finally:
        conn.close()
    assert versions == [v for v, _, _ in migrations.MIGRATIONS]  # each step recorded exactly once
