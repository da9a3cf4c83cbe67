"""fmnist.store_engine: where the store is and what a user is told when it cannot be used (a file that is no
database, a read-only file or folder, a full disk), and SQLite's own settings."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest
from sqlalchemy import event

from fmnist import migrations, presets, store_engine
from fmnist.store import Store, StoreError
from tests.servers import store_on_both  # noqa: F401 - `store`, on SQLite and on PostgreSQL
from tests.test_store import E1, sqlite_only


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "runs.db"
    original = b"these are my lecture notes, not a database\n" * 100
    path.write_bytes(original)
    with pytest.raises(StoreError) as info:
        Store(path)
    text = str(info.value)
    assert str(path) in text and "not a database" in text and "left untouched" in text
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.db"]  # no -wal/-shm beside it either


def test_create_false_on_a_missing_path(tmp_path):
    path = tmp_path / "none" / "runs.db"
    with pytest.raises(StoreError, match="No run store at") as info:
        Store(path, create=False)
    assert str(path) in str(info.value)
    assert not path.exists() and not path.parent.exists()


def test_a_new_store_creates_missing_folders(tmp_path):
    path = tmp_path / "new" / "runs.db"
    st = Store(path)
    try:
        assert path.is_file() and st.count() == 0
    finally:
        st.close()


def test_read_only_db_file(tmp_path):
    path = tmp_path / "runs.db"
    Store(path).close()
    os.chmod(path, 0o444)
    try:
        if os.access(path, os.W_OK):
            # As root the permission bits do not apply: os.access says writable and SQLite can write.
            st = Store(path)
            try:
                st.create_run(presets.config_for("majority"))
                assert st.count() == 1
            finally:
                st.close()
            pytest.skip("running as root: a 0o444 file is still writable, so the read-only refusal can't be seen")
        before = path.read_bytes()
        with pytest.raises(StoreError, match="read-only") as info:
            Store(path)
        assert str(path) in str(info.value)
        assert path.read_bytes() == before
    finally:
        os.chmod(path, 0o644)


def test_read_only_db_file_as_reported_by_os_access(tmp_path, monkeypatch):
    """What a non-root user sees for a read-only store, simulated for the root-run test machine."""
    path = tmp_path / "runs.db"
    Store(path).close()
    before = path.read_bytes()
    real_access = os.access
    monkeypatch.setattr(store_engine.os, "access",
                        lambda p, mode: False if (str(p) == str(path) and mode == os.W_OK) else real_access(p, mode))
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(path) in str(info.value) and "read-only" in str(info.value) and "FMNIST_HOME" in str(info.value)
    assert path.read_bytes() == before


def _on_every_connection(store, pragma):
    """Apply a PRAGMA to every pooled connection from now on (the pool is emptied first)."""
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda dbapi, _rec: dbapi.execute(f"PRAGMA {pragma}"))


def test_a_read_only_connection_is_refused_with_advice(store, run_factory):
    sqlite_only(store)
    run = run_factory(status="running")
    _on_every_connection(store, "query_only=ON")  # stands in for a store that became read-only while open
    with pytest.raises(StoreError, match="is read-only"):
        store.add_epoch(run.id, 1, E1)
    again = Store(store.path)
    try:
        assert again.epochs(run.id) == []
    finally:
        again.close()


def test_a_full_disk_during_a_write_becomes_store_error(store, run_factory):
    sqlite_only(store)
    run = run_factory(status="finished")
    with store.engine.connect() as c:
        pages = c.exec_driver_sql("PRAGMA page_count").scalar()
    _on_every_connection(store, f"max_page_count={pages}")  # the database file may not grow: a full disk
    with pytest.raises(StoreError, match="full"):
        store.save_evaluation(run.id, {"confusion": "x" * 100_000})
    assert store.evaluation(run.id) is None  # rolled back either way


def test_integrity_ok_and_wal_mode(store, run_factory):
    sqlite_only(store)
    run_factory()
    assert store.integrity_ok() is True
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert store.schema_version() == migrations.LATEST
    # WAL is a property of the file: a plain connection opened afterwards sees it too
    plain = sqlite3.connect(store.path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert json.loads(plain.execute("SELECT config FROM runs").fetchone()[0])["preset"] == "mlp1"
    finally:
        plain.close()


def test_a_plain_postgresql_url_is_given_psycopg_3_and_other_urls_are_kept():
    assert store_engine.with_driver("postgresql://ana:pw@db:5432/fmnist") == "postgresql+psycopg://ana:pw@db:5432/fmnist"
    for kept in ("postgresql+psycopg://db/fmnist", "sqlite:////tmp/runs.db"):
        assert store_engine.with_driver(kept) == kept
