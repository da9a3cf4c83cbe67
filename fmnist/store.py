"""The run store: runs, their epochs, evaluations and artifacts, on SQLite or PostgreSQL (SQLAlchemy Core).

Every status change is one named method here; the reads are `run_reads.RunReads`, the connection and its
error messages `store_engine`. Each call checks a connection out of the engine's pool for its own
transaction, so forty sessions' threads never share one. Writes are serialised store-wide (SQLite's
BEGIN IMMEDIATE; on PostgreSQL an advisory lock taken first in the transaction), which keeps check-then-
write steps such as the queue caps and claiming a slot atomic on both."""
from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from fmnist import migrations
from fmnist.run_reads import EPOCH_FIELDS, Run, RunReads, to_run
from fmnist.schema import ACTIVE, STATUSES, artifacts, class_rounds, epochs, evaluations, leases, runs, user_caps
from fmnist.store_engine import StoreError, explain, locate, make_engine, read_all, safe_url, writing

__all__ = ["ACTIVE", "STATUSES", "Run", "Store", "StoreError", "QueueFull", "RunGone", "RESULT_FIELDS"]

RESULT_FIELDS = ("train_acc", "val_acc", "test_acc", "params", "epochs", "seconds",
                 "best_epoch", "stopped_early", "model_path", "model_sha256")


class QueueFull(StoreError):
    pass


class RunGone(StoreError):
    """The run is no longer active (stopped, reaped or deleted): the worker must stop writing."""


class Store(RunReads):
    """Open with a SQLite file path, or a database URL (``postgresql+psycopg://...``, ``sqlite:///...``)."""

    def __init__(self, where: Path | str, create: bool = True):
        self.url, self.path = locate(where, create)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        try:
            with self.write() as c:
                migrations.upgrade(c)
        except migrations.SchemaTooNew as exc:
            self.engine.dispose()
            raise StoreError(explain(self.where, exc)) from exc
        except StoreError:
            self.engine.dispose()
            raise

    @classmethod
    def open(cls, settings, create: bool = True) -> Store:
        return cls(settings.database_url or settings.db_path, create=create)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else safe_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def write(self):
        """One write transaction, holding the store's write lock from its first statement."""
        return writing(self.engine, self.where)

    def _read(self, stmt) -> list:
        return read_all(self.engine, self.where, stmt)

    # -- status changes -------------------------------------------------
    def create_run(self, config, status: str = "queued", dedup_key: str | None = None, **extra) -> int:
        """A new run; `extra` sets lineage and placement columns (parent_id, sweep_id, group_key, executor...)."""
        with self.write() as c:
            return _insert_run(c, config, status, dedup_key, time.time(), **extra)

    def enqueue(self, config, dedup_key: str, dedup_window_s: float, queue_cap: int, per_user_cap: int,
                **extra) -> tuple[int, bool]:
        """Insert a queued run unless the same form was just submitted (returns that run, created=False).

        Check and insert share one transaction, so a double click cannot slip two runs in."""
        now = time.time()
        with self.write() as c:
            same = c.scalar(select(runs.c.id).where(runs.c.dedup_key == dedup_key,
                                                    runs.c.created_at >= now - dedup_window_s)
                            .order_by(runs.c.id.desc()).limit(1))
            if same is not None:
                return int(same), False
            queued = c.scalar(select(func.count()).select_from(runs).where(runs.c.status == "queued"))
            if queued >= queue_cap:
                raise QueueFull(f"The queue is full ({queued} runs waiting, the limit is {queue_cap}). "
                                "Wait for a run to finish or stop one, then try again.")
            cap = c.scalar(select(user_caps.c.cap).where(user_caps.c.user == config.user))
            cap = per_user_cap if cap is None else cap
            mine = c.scalar(select(func.count()).select_from(runs)
                            .where(runs.c.user == config.user, runs.c.status.in_(ACTIVE)))
            if mine >= cap:
                who = f"'{config.user}'" if config.user else "you"
                raise QueueFull(f"The queue is full for {who}: {mine} runs active or waiting (the limit is "
                                f"{cap} a person). Stop one or wait for one to finish.")
            return _insert_run(c, config, "queued", dedup_key, now, **extra), True

    def claim_next(self, slots: int, executor: str) -> list[int]:
        """Claim the oldest queued runs for the free slots, in one transaction; returns their ids."""
        now = time.time()
        with self.write() as c:
            busy = c.scalar(select(func.count()).select_from(runs).where(runs.c.status == "running"))
            free = max(slots - busy, 0)
            ids = list(c.scalars(select(runs.c.id).where(runs.c.status == "queued").order_by(runs.c.id).limit(free)))
            if ids:
                c.execute(runs.update().where(runs.c.id.in_(ids)).values(
                    status="running", started_at=now, heartbeat=now, executor=executor, handle=None))
            return ids

    def set_handle(self, run_id: int, handle: str) -> bool:
        with self.write() as c:
            return c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "running")
                             .values(handle=handle)).rowcount == 1

    def mark_running(self, run_id: int, pid: int, proc_start: float | None = None, node: str | None = None) -> None:
        """The worker itself confirms it runs: its pid and node, and a first heartbeat."""
        now = time.time()
        with self.write() as c:
            cur = c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "running").values(
                pid=pid, proc_start=func.coalesce(proc_start, runs.c.proc_start),
                started_at=func.coalesce(runs.c.started_at, now), heartbeat=now, node=node))
            if cur.rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")

    def add_epoch(self, run_id: int, epoch: int, metrics: dict) -> None:
        """One epoch's row and the heartbeat, in one transaction (a repeated epoch replaces its row)."""
        with self.write() as c:
            cur = c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "running")
                            .values(heartbeat=time.time(), epochs=epoch))
            if cur.rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")
            c.execute(epochs.delete().where(epochs.c.run_id == run_id, epochs.c.epoch == epoch))
            c.execute(epochs.insert().values(run_id=run_id, epoch=epoch, ended_at=time.time(),
                                             **{k: _num(metrics.get(k)) for k in EPOCH_FIELDS}))

    def heartbeat(self, run_id: int) -> None:
        with self.write() as c:
            if c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "running")
                         .values(heartbeat=time.time())).rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")

    def finish(self, run_id: int, result: dict) -> None:
        with self.write() as c:
            cur = c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "running").values(
                status="finished", ended_at=time.time(), error=None, **{k: result.get(k) for k in RESULT_FIELDS}))
            if cur.rowcount != 1:
                raise RunGone(f"run {run_id} is no longer running")

    def mark_stopped(self, run_id: int, reason: str = "stopped by request", result: dict | None = None) -> bool:
        return self._end(run_id, "stopped", reason, result)

    def mark_failed(self, run_id: int, reason: str) -> bool:
        return self._end(run_id, "failed", reason, None)

    def _end(self, run_id: int, status: str, reason: str, result: dict | None) -> bool:
        extra = {k: result[k] for k in RESULT_FIELDS if result and result.get(k) is not None}
        with self.write() as c:
            cur = c.execute(runs.update().where(runs.c.id == run_id, runs.c.status.in_(ACTIVE)).values(
                status=status, ended_at=time.time(), error=reason[:500], **extra))
            return cur.rowcount == 1

    def request_stop(self, run_id: int) -> None:
        with self.write() as c:
            c.execute(runs.update().where(runs.c.id == run_id, runs.c.status.in_(ACTIVE))
                      .values(stop_requested_at=func.coalesce(runs.c.stop_requested_at, time.time())))

    def stop_requested(self, run_id: int) -> bool:
        rows = self._read(select(runs.c.stop_requested_at, runs.c.status).where(runs.c.id == run_id))
        return not rows or rows[0].stop_requested_at is not None or rows[0].status not in ACTIVE

    def clear_queue(self, reason: str = "queue cleared by the instructor") -> int:
        with self.write() as c:
            return c.execute(runs.update().where(runs.c.status == "queued").values(
                status="stopped", ended_at=time.time(), error=reason)).rowcount

    # -- edits ------------------------------------------------------------
    def rename(self, run_id: int, name: str) -> None:
        name = name.strip()
        if not 1 <= len(name) <= 80:
            raise StoreError("A run's name needs 1 to 80 characters.")
        with self.write() as c:
            c.execute(runs.update().where(runs.c.id == run_id).values(name=name))

    def delete(self, run_id: int) -> Run | None:
        """Remove an ended run with its epochs, evaluation and artifact; the caller removes its model file."""
        with self.write() as c:
            row = c.execute(select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                return None
            if row.status in ACTIVE:
                raise StoreError(f"Run {run_id} is still {row.status}; stop it before deleting it.")
            for table in (epochs, evaluations, artifacts):  # explicit: SQLite needs foreign_keys=ON to cascade
                c.execute(table.delete().where(table.c.run_id == run_id))
            c.execute(runs.delete().where(runs.c.id == run_id))
            return to_run(row)

    def save_evaluation(self, run_id: int, payload: dict) -> None:
        with self.write() as c:
            c.execute(evaluations.delete().where(evaluations.c.run_id == run_id))
            c.execute(evaluations.insert().values(run_id=run_id, created_at=time.time(), payload=json.dumps(payload)))

    def count_test_view(self, run_id: int) -> None:
        with self.write() as c:
            c.execute(runs.update().where(runs.c.id == run_id).values(test_views=runs.c.test_views + 1))

    def set_user_cap(self, user: str, cap: int | None) -> None:
        """A student's own limit on active runs; None returns them to the server's default."""
        with self.write() as c:
            c.execute(user_caps.delete().where(user_caps.c.user == user))
            if cap is not None:
                c.execute(user_caps.insert().values(user=user, cap=int(cap)))

    def start_round(self, started_at: float) -> None:
        with self.write() as c:
            c.execute(class_rounds.insert().values(started_at=started_at))

    def reveal_round(self, revealed_at: float) -> None:
        """Mark the latest round revealed (the first round, from the beginning, if none was started)."""
        with self.write() as c:
            latest = c.execute(select(func.max(class_rounds.c.id))).scalar()
            if latest is None:
                c.execute(class_rounds.insert().values(started_at=0.0, revealed_at=revealed_at))
            else:
                c.execute(class_rounds.update().where(class_rounds.c.id == latest).values(revealed_at=revealed_at))

    def latest_round(self) -> tuple[float, float | None] | None:
        """(started_at, revealed_at) of the latest round, None before the first."""
        rows = self._read(select(class_rounds.c.started_at, class_rounds.c.revealed_at)
                          .order_by(class_rounds.c.id.desc()).limit(1))
        return (rows[0][0], rows[0][1]) if rows else None

    def put_artifact(self, run_id: int, sha256: str, suffix: str, data: bytes) -> None:
        with self.write() as c:
            c.execute(artifacts.delete().where(artifacts.c.run_id == run_id))
            c.execute(artifacts.insert().values(run_id=run_id, sha256=sha256, suffix=suffix, data=data))

    def take_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Hold (or renew) the named lease unless another holder's is still valid."""
        now = time.time()
        with self.write() as c:
            row = c.execute(select(leases).where(leases.c.name == name)).first()
            if row is not None and row.holder != holder and row.expires_at > now:
                return False
            c.execute(leases.delete().where(leases.c.name == name))
            c.execute(leases.insert().values(name=name, holder=holder, expires_at=now + ttl_s))
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self.write() as c:
            c.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    # -- the store itself ---------------------------------------------------
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current(conn)

    def integrity_ok(self) -> bool:
        if self.dialect != "sqlite":
            return True  # PostgreSQL keeps its own pages consistent; there is no whole-file check to run
        return self._read(text("PRAGMA integrity_check"))[0][0] == "ok"


def _insert_run(c: Connection, config, status: str, dedup_key: str | None, now: float, **extra) -> int:
    cur = c.execute(runs.insert().values(
        name=config.name or config.preset, preset=config.preset, kind=config.model.kind, config=config.to_json(),
        user=config.user, dedup_key=dedup_key, status=status, created_at=now, **extra).returning(runs.c.id))
    return int(cur.scalar_one())


def _num(value):
    return None if value is None else float(value)
