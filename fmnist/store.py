"""The run store: runs, their epochs, evaluations and artifacts, on SQLite or PostgreSQL (SQLAlchemy Core).

Every status change is one named method. Each call checks a connection out of the engine's pool for its
own transaction, so forty sessions' threads never share one. Writes are serialised store-wide (SQLite's
BEGIN IMMEDIATE; on PostgreSQL an advisory lock taken first in the transaction), which keeps check-then-
write steps such as the queue caps and claiming a slot atomic on both."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from sqlalchemy import and_, case, create_engine, event, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from fmnist import migrations
from fmnist.schema import ACTIVE, STATUSES, artifacts, class_rounds, epochs, evaluations, leases, runs, user_caps

__all__ = ["ACTIVE", "STATUSES", "Run", "Store", "StoreError", "QueueFull", "RunGone", "RESULT_FIELDS"]

BUSY_TIMEOUT_MS = 30_000  # a class of writers waits its turn rather than failing
WRITE_LOCK_KEY = 20240329  # PostgreSQL advisory lock id that stands for "the store's write lock"
RESULT_FIELDS = ("train_acc", "val_acc", "test_acc", "params", "epochs", "seconds",
                 "best_epoch", "stopped_early", "model_path", "model_sha256")
EPOCH_FIELDS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
ORDERS = {
    "id DESC": (runs.c.id.desc(),),
    "id": (runs.c.id,),
    "val_acc DESC": (runs.c.val_acc.desc(), runs.c.id),
    "queue": (case((runs.c.status == "queued", 1), else_=0), runs.c.id),  # running first, then the queue in order
}


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
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None
    proc_start: float | None = None
    heartbeat: float | None = None
    stop_requested_at: float | None = None
    error: str | None = None
    train_acc: float | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    params: int | None = None
    epochs: int | None = None
    seconds: float | None = None
    best_epoch: int | None = None
    stopped_early: int | None = None
    model_path: str | None = None
    model_sha256: str | None = None
    test_views: int = 0
    dedup_key: str | None = None
    executor: str | None = None
    handle: str | None = None
    node: str | None = None
    parent_id: int | None = None
    sweep_id: int | None = None
    group_key: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def run_config(self):
        from fmnist.config import RunConfig
        return RunConfig.from_json(self.config)


_RUN_FIELDS = tuple(f.name for f in fields(Run))


def _run(row) -> Run:
    m = row._mapping
    return Run(**{k: m[k] for k in _RUN_FIELDS})


class Store:
    """Open with a SQLite file path, or a database URL (``postgresql+psycopg://...``, ``sqlite:///...``)."""

    def __init__(self, where: Path | str, create: bool = True):
        self.url, self.path = _url_and_path(where, create)
        self.engine = _engine(self.url)
        self.dialect = self.engine.dialect.name
        try:
            with self.write() as c:
                migrations.upgrade(c)
        except migrations.SchemaTooNew as exc:
            self.engine.dispose()
            raise StoreError(_explain(self.where, exc)) from exc
        except StoreError:
            self.engine.dispose()
            raise

    @classmethod
    def open(cls, settings, create: bool = True) -> Store:
        return cls(settings.database_url or settings.db_path, create=create)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else _safe_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self):
        """One write transaction, holding the store's write lock from its first statement."""
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
                yield conn
        except DBAPIError as exc:
            raise StoreError(_explain(self.where, exc.orig or exc)) from exc
        except SQLAlchemyError as exc:
            raise StoreError(_explain(self.where, exc)) from exc

    def _read(self, stmt):
        try:
            with self.engine.connect().execution_options(fmnist_read=True) as conn:
                return conn.execute(stmt).all()
        except DBAPIError as exc:
            raise StoreError(_explain(self.where, exc.orig or exc)) from exc
        except SQLAlchemyError as exc:
            raise StoreError(_explain(self.where, exc)) from exc

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

    def claim(self, run_id: int, pid: int | None = None, proc_start: float | None = None,
              executor: str = "local", handle: str | None = None) -> bool:
        """queued -> running, by whoever launches its worker."""
        now = time.time()
        with self.write() as c:
            cur = c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "queued").values(
                status="running", pid=pid, proc_start=proc_start, started_at=now, heartbeat=now,
                executor=executor, handle=handle))
            return cur.rowcount == 1

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
            return _run(row)

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

    # -- reads --------------------------------------------------------------
    def get(self, run_id: int) -> Run | None:
        rows = self._read(select(runs).where(runs.c.id == run_id))
        return _run(rows[0]) if rows else None

    def runs(self, statuses: tuple[str, ...] | None = None, limit: int = 1000, offset: int = 0,
             order: str = "id DESC", **match) -> list[Run]:
        """Runs in one of `statuses` (all when None); `match` filters on equal columns (sweep_id=3, user='ana')."""
        stmt = select(runs)
        if statuses:
            stmt = stmt.where(runs.c.status.in_(statuses))
        for key, value in match.items():
            stmt = stmt.where(runs.c[key] == value)
        rows = self._read(stmt.order_by(*ORDERS[order]).limit(limit).offset(offset))
        return [_run(r) for r in rows]

    def count(self, statuses: tuple[str, ...] | None = None, user: str | None = None) -> int:
        stmt = select(func.count()).select_from(runs)
        if statuses:
            stmt = stmt.where(runs.c.status.in_(statuses))
        if user is not None:
            stmt = stmt.where(runs.c.user == user)
        return int(self._read(stmt)[0][0])

    def search(self, statuses=(), name_contains: str = "", presets=(), limit: int = 50, offset: int = 0,
               users=()) -> list[Run]:
        """Runs matching the filters, newest first, one page of them (filtered and paged in SQL)."""
        stmt = select(runs).where(_filters(statuses, name_contains, presets, users))
        return [_run(r) for r in self._read(stmt.order_by(runs.c.id.desc()).limit(limit).offset(offset))]

    def count_matching(self, statuses=(), name_contains: str = "", presets=(), users=()) -> int:
        stmt = select(func.count()).select_from(runs).where(_filters(statuses, name_contains, presets, users))
        return int(self._read(stmt)[0][0])

    def best_val(self) -> Run | None:
        """The finished run with the highest validation accuracy (the oldest of a tie)."""
        rows = self._read(select(runs).where(runs.c.status == "finished", runs.c.val_acc.is_not(None))
                          .order_by(runs.c.val_acc.desc(), runs.c.id).limit(1))
        return _run(rows[0]) if rows else None

    def presets_used(self) -> list[str]:
        return [r[0] for r in self._read(select(runs.c.preset).distinct().order_by(runs.c.preset))]

    def users(self) -> list[str]:
        return [r[0] for r in self._read(select(runs.c.user).where(runs.c.user != "").distinct().order_by(runs.c.user))]

    def user_caps(self) -> dict[str, int]:
        return {r.user: r.cap for r in self._read(select(user_caps))}

    def epochs(self, run_id: int) -> list[dict]:
        return self.epochs_since(run_id, 0)

    def epochs_since(self, run_id: int, after: int) -> list[dict]:
        rows = self._read(select(epochs.c.epoch, *(epochs.c[k] for k in EPOCH_FIELDS), epochs.c.ended_at)
                          .where(epochs.c.run_id == run_id, epochs.c.epoch > after).order_by(epochs.c.epoch))
        return [dict(r._mapping) for r in rows]

    def evaluation(self, run_id: int) -> dict | None:
        rows = self._read(select(evaluations.c.payload).where(evaluations.c.run_id == run_id))
        return json.loads(rows[0][0]) if rows else None

    def artifact(self, run_id: int) -> tuple[str, str, bytes] | None:
        rows = self._read(select(artifacts.c.sha256, artifacts.c.suffix, artifacts.c.data)
                          .where(artifacts.c.run_id == run_id))
        return (rows[0][0], rows[0][1], bytes(rows[0][2])) if rows else None

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


def _filters(statuses, name_contains: str, presets, users):
    clauses = [runs.c.id.is_not(None)]
    if statuses:
        clauses.append(runs.c.status.in_(list(statuses)))
    if presets:
        clauses.append(runs.c.preset.in_(list(presets)))
    if users:
        clauses.append(runs.c.user.in_(list(users)))
    if name_contains.strip():  # autoescape: % and _ in a name stay literal
        clauses.append(func.lower(runs.c.name).contains(name_contains.strip().lower(), autoescape=True))
    return and_(*clauses)


def _url_and_path(where: Path | str, create: bool) -> tuple[str, Path | None]:
    text_where = str(where)
    if "://" in text_where and not text_where.startswith("sqlite"):
        return text_where, None
    path = Path(text_where.split(":///", 1)[1]) if text_where.startswith("sqlite") else Path(where)
    _check_sqlite_path(path, create)
    return f"sqlite:///{path}", path


def _check_sqlite_path(path: Path, create: bool) -> None:
    if not path.exists():
        if not create:
            raise StoreError(f"No run store at {path}. "
                             "Start the app or run `python -m fmnist runs` once to create one.")
        if not os.access(path.parent if path.parent.exists() else path.parent.parent, os.W_OK):
            raise StoreError(f"Cannot create the run store in {path.parent}: the folder is not writable. "
                             "Set FMNIST_HOME to a folder you can write to.")
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StoreError(f"The run store {path} (or its folder) is read-only. Make it writable, "
                         "or set FMNIST_HOME to a folder you can write to.")


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]  # psycopg 3, not the default psycopg2
        try:
            return create_engine(url, pool_size=10, max_overflow=40, pool_pre_ping=True)
        except (ImportError, SQLAlchemyError) as exc:
            raise StoreError(f"Cannot use the database {_safe_url(url)}: {exc}. "
                             "Install the driver with `pip install 'psycopg[binary]'`.") from exc
    engine = create_engine(url, pool_size=10, max_overflow=40,
                           connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _prepare(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, says when a transaction begins
        for pragma in (f"busy_timeout={BUSY_TIMEOUT_MS}", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if not conn.get_execution_options().get("fmnist_read"):  # readers run in autocommit and never lock
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "the database"


def _explain(where: str, exc: BaseException) -> str:
    text_ = " ".join(str(exc).split())
    if "readonly" in text_ or "read-only" in text_:
        return f"The run store {where} is read-only ({text_}). Make it writable or set FMNIST_HOME elsewhere."
    if "full" in text_:
        return f"The run store {where} could not be written: {text_}. Free some disk space and try again."
    if "not a database" in text_ or "malformed" in text_ or "schema version" in text_:
        return (f"The run store {where} cannot be used: {text_}. It was left untouched; move it aside "
                "(for example to runs.db.bad) and the lab starts a new, empty store.")
    if "connection" in text_.lower() and "refused" in text_.lower():
        return (f"The run store {where} cannot be reached: {text_}. Start the database server or fix "
                "FMNIST_DATABASE_URL.")
    return f"The run store {where} failed: {text_}."
