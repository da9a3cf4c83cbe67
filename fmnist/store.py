"""SQLite run store: runs, their epochs and evaluations. Every status change is one named function."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "finished", "stopped", "failed")
BUSY_TIMEOUT_MS = 30_000  # a class of writers waits its turn rather than failing

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    preset TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    dedup_key TEXT,
    status TEXT NOT NULL CHECK (status IN {STATUSES}),
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    pid INTEGER,
    proc_start REAL,
    heartbeat REAL,
    stop_requested_at REAL,
    error TEXT,
    train_acc REAL, val_acc REAL, test_acc REAL,
    params INTEGER, epochs INTEGER, seconds REAL,
    best_epoch INTEGER, stopped_early INTEGER,
    model_path TEXT, model_sha256 TEXT,
    test_views INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL, seconds REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS evaluations (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    payload TEXT NOT NULL
);
"""
RESULT_FIELDS = ("train_acc", "val_acc", "test_acc", "params", "epochs", "seconds",
                 "best_epoch", "stopped_early", "model_path", "model_sha256")


class StoreError(RuntimeError):
    pass


class QueueFull(StoreError):
    pass


class RunGone(StoreError):
    """The run is no longer active (stopped, reaped or deleted): the worker must stop writing."""


@dataclass(frozen=True)
class Run:
    id: int
    name: str
    preset: str
    kind: str
    config: str
    user: str
    status: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    pid: int | None
    proc_start: float | None
    heartbeat: float | None
    stop_requested_at: float | None
    error: str | None
    train_acc: float | None
    val_acc: float | None
    test_acc: float | None
    params: int | None
    epochs: int | None
    seconds: float | None
    best_epoch: int | None
    stopped_early: int | None
    model_path: str | None
    model_sha256: str | None
    test_views: int
    dedup_key: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def run_config(self):
        from fmnist.config import RunConfig
        return RunConfig.from_json(self.config)


class Store:
    def __init__(self, path: Path, create: bool = True):
        self.path = Path(path)
        self.conn = _connect(self.path, create)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self):
        """One write transaction, taken up front so concurrent writers queue instead of deadlocking."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(_explain(self.path, exc)) from exc
        try:
            yield self.conn
        except sqlite3.DatabaseError as exc:
            self.conn.execute("ROLLBACK")
            raise StoreError(_explain(self.path, exc)) from exc
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self.conn.execute("ROLLBACK")
                raise StoreError(_explain(self.path, exc)) from exc

    def _read(self, sql: str, args=()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from exc

    # -- status changes -------------------------------------------------
    def create_run(self, config, status: str = "queued", dedup_key: str | None = None) -> int:
        with self.write() as c:
            cur = c.execute(
                "INSERT INTO runs (name, preset, kind, config, user, dedup_key, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (config.name or config.preset, config.preset, config.model.kind, config.to_json(),
                 config.user, dedup_key, status, time.time()))
            return int(cur.lastrowid)

    def enqueue(self, config, dedup_key: str, dedup_window_s: float, queue_cap: int, per_user_cap: int) -> tuple[int, bool]:
        """Insert a queued run unless the same form was just submitted (returns that run, created=False).

        Check and insert share one transaction, so a double click cannot slip two runs in."""
        now = time.time()
        with self.write() as c:
            row = c.execute("SELECT id FROM runs WHERE dedup_key=? AND created_at>=? ORDER BY id DESC LIMIT 1",
                            (dedup_key, now - dedup_window_s)).fetchone()
            if row:
                return int(row[0]), False
            queued = c.execute("SELECT COUNT(*) FROM runs WHERE status='queued'").fetchone()[0]
            if queued >= queue_cap:
                raise QueueFull(f"The queue is full ({queued} runs waiting, the limit is {queue_cap}). "
                                "Wait for a run to finish or stop one, then try again.")
            mine = c.execute("SELECT COUNT(*) FROM runs WHERE user=? AND status IN ('queued','running')",
                             (config.user,)).fetchone()[0]
            if mine >= per_user_cap:
                who = f"'{config.user}'" if config.user else "you"
                raise QueueFull(f"The queue is full for {who}: {mine} runs active or waiting (the limit is "
                                f"{per_user_cap} a person). Stop one or wait for one to finish.")
            cur = c.execute(
                "INSERT INTO runs (name, preset, kind, config, user, dedup_key, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                (config.name or config.preset, config.preset, config.model.kind, config.to_json(),
                 config.user, dedup_key, now))
            return int(cur.lastrowid), True

    def claim(self, run_id: int, pid: int, proc_start: float | None) -> bool:
        """queued -> running, by the process that launched its worker."""
        with self.write() as c:
            cur = c.execute("UPDATE runs SET status='running', pid=?, proc_start=?, started_at=?, heartbeat=? "
                            "WHERE id=? AND status='queued'", (pid, proc_start, time.time(), time.time(), run_id))
            return cur.rowcount == 1

    def mark_running(self, run_id: int, pid: int, proc_start: float | None = None) -> None:
        """The worker itself confirms it runs (also used by foreground runs straight from queued)."""
        now = time.time()
        with self.write() as c:
            cur = c.execute("UPDATE runs SET status='running', pid=?, proc_start=COALESCE(?, proc_start), "
                            "started_at=COALESCE(started_at, ?), heartbeat=? WHERE id=? AND status IN ('queued','running')",
                            (pid, proc_start, now, now, run_id))
            if cur.rowcount != 1:
                raise RunGone(f"run {run_id} is no longer queued or running")

    def add_epoch(self, run_id: int, epoch: int, metrics: dict) -> None:
        """One epoch's row and the heartbeat, in one transaction."""
        with self.write() as c:
            cur = c.execute("UPDATE runs SET heartbeat=?, epochs=? WHERE id=? AND status='running'",
                            (time.time(), epoch, run_id))
            if cur.rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")
            c.execute("INSERT OR REPLACE INTO epochs (run_id, epoch, loss, accuracy, val_loss, val_accuracy, seconds) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, epoch, *(_num(metrics.get(k)) for k in
                                        ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"))))

    def heartbeat(self, run_id: int) -> None:
        with self.write() as c:
            if c.execute("UPDATE runs SET heartbeat=? WHERE id=? AND status='running'",
                         (time.time(), run_id)).rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")

    def finish(self, run_id: int, result: dict) -> None:
        values = [result.get(k) for k in RESULT_FIELDS]
        sets = ", ".join(f"{k}=?" for k in RESULT_FIELDS)
        with self.write() as c:
            cur = c.execute(f"UPDATE runs SET status='finished', ended_at=?, error=NULL, {sets} "
                            "WHERE id=? AND status='running'", (time.time(), *values, run_id))
            if cur.rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")

    def mark_stopped(self, run_id: int, reason: str = "stopped by request", result: dict | None = None) -> bool:
        return self._end(run_id, "stopped", reason, result)

    def mark_failed(self, run_id: int, reason: str) -> bool:
        return self._end(run_id, "failed", reason, None)

    def _end(self, run_id: int, status: str, reason: str, result: dict | None) -> bool:
        extra = {k: result[k] for k in RESULT_FIELDS if result and result.get(k) is not None}
        sets = "".join(f", {k}=?" for k in extra)
        with self.write() as c:
            cur = c.execute(f"UPDATE runs SET status=?, ended_at=?, error=?{sets} "
                            "WHERE id=? AND status IN ('queued','running')",
                            (status, time.time(), reason[:500], *extra.values(), run_id))
            return cur.rowcount == 1

    def request_stop(self, run_id: int) -> None:
        with self.write() as c:
            c.execute("UPDATE runs SET stop_requested_at=COALESCE(stop_requested_at, ?) "
                      "WHERE id=? AND status IN ('queued','running')", (time.time(), run_id))

    def stop_requested(self, run_id: int) -> bool:
        rows = self._read("SELECT stop_requested_at, status FROM runs WHERE id=?", (run_id,))
        return not rows or rows[0]["stop_requested_at"] is not None or rows[0]["status"] not in ACTIVE

    # -- edits ------------------------------------------------------------
    def rename(self, run_id: int, name: str) -> None:
        name = name.strip()
        if not 1 <= len(name) <= 80:
            raise StoreError("A run's name needs 1 to 80 characters.")
        with self.write() as c:
            c.execute("UPDATE runs SET name=? WHERE id=?", (name, run_id))

    def delete(self, run_id: int) -> Run | None:
        """Remove an ended run with its epochs and evaluation; the caller removes its model file."""
        with self.write() as c:
            row = c.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return None
            if row["status"] in ACTIVE:
                raise StoreError(f"Run {run_id} is still {row['status']}; stop it before deleting it.")
            c.execute("DELETE FROM runs WHERE id=?", (run_id,))
            return Run(**dict(row))

    def save_evaluation(self, run_id: int, payload: dict) -> None:
        with self.write() as c:
            c.execute("INSERT OR REPLACE INTO evaluations (run_id, created_at, payload) VALUES (?, ?, ?)",
                      (run_id, time.time(), json.dumps(payload)))

    def count_test_view(self, run_id: int) -> None:
        with self.write() as c:
            c.execute("UPDATE runs SET test_views=test_views+1 WHERE id=?", (run_id,))

    # -- reads --------------------------------------------------------------
    def get(self, run_id: int) -> Run | None:
        rows = self._read("SELECT * FROM runs WHERE id=?", (run_id,))
        return Run(**dict(rows[0])) if rows else None

    def runs(self, statuses: tuple[str, ...] | None = None, limit: int = 1000, offset: int = 0,
             order: str = "id DESC") -> list[Run]:
        where = f"WHERE status IN ({','.join('?' * len(statuses))})" if statuses else ""
        rows = self._read(f"SELECT * FROM runs {where} ORDER BY {order} LIMIT ? OFFSET ?",
                          (*(statuses or ()), limit, offset))
        return [Run(**dict(r)) for r in rows]

    def count(self, statuses: tuple[str, ...] | None = None, user: str | None = None) -> int:
        clauses, args = [], []
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        if user is not None:
            clauses.append("user=?")
            args.append(user)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return int(self._read(f"SELECT COUNT(*) FROM runs {where}", args)[0][0])

    def search(self, statuses=(), name_contains: str = "", presets=(), limit: int = 50, offset: int = 0) -> list[Run]:
        """Runs matching the filters, newest first, one page of them (filtered and paged in SQL)."""
        where, args = _filters(statuses, name_contains, presets)
        rows = self._read(f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return [Run(**dict(r)) for r in rows]

    def count_matching(self, statuses=(), name_contains: str = "", presets=()) -> int:
        where, args = _filters(statuses, name_contains, presets)
        return int(self._read(f"SELECT COUNT(*) FROM runs {where}", args)[0][0])

    def best_val(self) -> Run | None:
        """The finished run with the highest validation accuracy (the oldest of a tie)."""
        rows = self._read("SELECT * FROM runs WHERE status='finished' AND val_acc IS NOT NULL "
                          "ORDER BY val_acc DESC, id ASC LIMIT 1")
        return Run(**dict(rows[0])) if rows else None

    def presets_used(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT preset FROM runs ORDER BY preset")]

    def epochs(self, run_id: int) -> list[dict]:
        rows = self._read("SELECT epoch, loss, accuracy, val_loss, val_accuracy, seconds FROM epochs "
                          "WHERE run_id=? ORDER BY epoch", (run_id,))
        return [dict(r) for r in rows]

    def epochs_since(self, run_id: int, after: int) -> list[dict]:
        rows = self._read("SELECT epoch, loss, accuracy, val_loss, val_accuracy, seconds FROM epochs "
                          "WHERE run_id=? AND epoch>? ORDER BY epoch", (run_id, after))
        return [dict(r) for r in rows]

    def evaluation(self, run_id: int) -> dict | None:
        rows = self._read("SELECT payload FROM evaluations WHERE run_id=?", (run_id,))
        return json.loads(rows[0][0]) if rows else None

    def integrity_ok(self) -> bool:
        return self._read("PRAGMA integrity_check")[0][0] == "ok"


def _num(value):
    return None if value is None else float(value)


def _filters(statuses, name_contains: str, presets) -> tuple[str, list]:
    clauses, args = [], []
    if statuses:
        clauses.append(f"status IN ({','.join('?' * len(statuses))})")
        args += list(statuses)
    if presets:
        clauses.append(f"preset IN ({','.join('?' * len(presets))})")
        args += list(presets)
    if name_contains.strip():
        clauses.append("instr(lower(name), lower(?)) > 0")  # instr, not LIKE: % and _ in a name stay literal
        args.append(name_contains.strip())
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args


def _connect(path: Path, create: bool) -> sqlite3.Connection:
    if not path.exists():
        if not create:
            raise StoreError(f"No run store at {path}. Start the app or run `python -m fmnist runs` once to create one.")
        if not os.access(path.parent if path.parent.exists() else path.parent.parent, os.W_OK):
            raise StoreError(f"Cannot create the run store in {path.parent}: the folder is not writable. "
                             "Set FMNIST_HOME to a folder you can write to.")
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StoreError(f"The run store {path} (or its folder) is read-only. Make it writable, "
                         "or set FMNIST_HOME to a folder you can write to.")
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        _prepare(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(_explain(path, exc)) from exc
    return conn


def _prepare(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"schema version {version} is newer than this lab's {SCHEMA_VERSION}; update the lab")
    if version < SCHEMA_VERSION:
        conn.executescript(SCHEMA)  # idempotent, so two processes creating it at once is harmless
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _explain(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"The run store {path} is read-only ({text}). Make it writable or set FMNIST_HOME elsewhere."
    if "full" in text:
        return f"The run store {path} could not be written: {text}. Free some disk space and try again."
    if "not a database" in text or "malformed" in text or "schema version" in text:
        return (f"The run store {path} cannot be used: {text}. It was left untouched; move it aside "
                "(for example to runs.db.bad) and the lab starts a new, empty store.")
    return f"The run store {path} failed: {text}."
