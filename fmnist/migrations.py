"""Versioned schema changes, each applied once, in order, under one lock.

Several processes may open a new store at the same moment (an app server, workers, the CLI): the first
takes the write lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock), applies what is missing and
records it in schema_version; the others wait, then find nothing left to do. Both databases run DDL
inside the transaction, so a failed step leaves the store as it was."""
from __future__ import annotations

import time

from sqlalchemy import CheckConstraint, Column, Float, ForeignKey, Integer, MetaData, Table, Text, inspect, select
from sqlalchemy.engine import Connection

from fmnist import schema


def _v1_tables() -> MetaData:
    """The first shape (what the lab's SQLite stores held before SQLAlchemy), kept frozen here."""
    md = MetaData()
    Table("runs", md,
          Column("id", Integer, primary_key=True, autoincrement=True),
          *(Column(n, Text, nullable=False) for n in ("name", "preset", "kind", "config")),
          Column("user", Text, nullable=False, server_default=""),
          Column("dedup_key", Text),
          Column("status", Text, nullable=False),
          Column("created_at", Float, nullable=False),
          *(Column(n, Float) for n in ("started_at", "ended_at")),
          Column("pid", Integer),
          *(Column(n, Float) for n in ("proc_start", "heartbeat", "stop_requested_at")),
          Column("error", Text),
          *(Column(n, Float) for n in ("train_acc", "val_acc", "test_acc")),
          *(Column(n, Integer) for n in ("params", "epochs")),
          Column("seconds", Float),
          *(Column(n, Integer) for n in ("best_epoch", "stopped_early")),
          *(Column(n, Text) for n in ("model_path", "model_sha256")),
          Column("test_views", Integer, nullable=False, server_default="0"),
          CheckConstraint(schema.STATUS_CHECK, name="runs_status_check"))
    Table("epochs", md,
          Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
          Column("epoch", Integer, primary_key=True),
          *(Column(n, Float) for n in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")))
    Table("evaluations", md,
          Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
          Column("created_at", Float, nullable=False),
          Column("payload", Text, nullable=False))
    return md


def _v1(conn: Connection) -> None:
    md = _v1_tables()
    md.create_all(conn, checkfirst=True)  # a pre-SQLAlchemy store already has these: nothing to do
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS runs_status ON runs (status)")


V2_COLUMNS = ("executor", "handle", "node", "parent_id", "sweep_id", "group_key")


def _v2(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("runs")}
    for name in V2_COLUMNS:
        if name not in have:
            kind = schema.runs.c[name].type.compile(conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
    for table in (schema.artifacts, schema.user_caps, schema.sweeps, schema.leases):
        table.create(conn, checkfirst=True)


def _v3(conn: Connection) -> None:
    if "ended_at" not in {c["name"] for c in inspect(conn).get_columns("epochs")}:
        column_type = schema.epochs.c.ended_at.type.compile(conn.dialect)
        conn.exec_driver_sql("ALTER TABLE epochs ADD COLUMN ended_at " + column_type)


def _v4(conn: Connection) -> None:
    schema.class_rounds.create(conn, checkfirst=True)


MIGRATIONS = [
    (1, "runs, epochs, evaluations", _v1),
    (2, "executor handle, node, lineage, sweeps, per-user caps, stored artifacts, supervisor lease", _v2),
    (3, "when each epoch ended", _v3),
    (4, "classroom rounds (they were a file in one server's workspace)", _v4),
]
LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    pass


def upgrade(conn: Connection) -> list[int]:
    """Apply what is missing; call inside the store's write transaction (which holds the lock)."""
    schema.schema_version.create(conn, checkfirst=True)
    done = set(conn.scalars(select(schema.schema_version.c.version)))
    if done and max(done) > LATEST:
        raise SchemaTooNew(f"schema version {max(done)} is newer than this lab's {LATEST}; update the lab")
    applied = []
    for version, what, step in MIGRATIONS:
        if version in done:
            continue
        step(conn)
        conn.execute(schema.schema_version.insert().values(version=version, applied_at=time.time(), what=what))
        applied.append(version)
    return applied


def current(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    return max(conn.scalars(select(schema.schema_version.c.version)), default=0)
