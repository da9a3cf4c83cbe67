"""The store's read half: the run as a record, and every query the pages, the summary and the workers read.

`Store` inherits these; each runs in autocommit on a connection of its own (`Store._read`) and never locks."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields

from sqlalchemy import and_, case, func, select

from fmnist.schema import ACTIVE, artifacts, epochs, evaluations, runs, user_caps

EPOCH_FIELDS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
ORDERS = {
    "id DESC": (runs.c.id.desc(),),
    "id": (runs.c.id,),
    "val_acc DESC": (runs.c.val_acc.desc(), runs.c.id),
    "queue": (case((runs.c.status == "queued", 1), else_=0), runs.c.id),  # running first, then the queue in order
}


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


def to_run(row) -> Run:
    m = row._mapping
    return Run(**{k: m[k] for k in _RUN_FIELDS})


class RunReads:
    """Mixed into `Store`, which provides `_read(statement) -> rows`."""

    def get(self, run_id: int) -> Run | None:
        rows = self._read(select(runs).where(runs.c.id == run_id))
        return to_run(rows[0]) if rows else None

    def runs(self, statuses: tuple[str, ...] | None = None, limit: int = 1000, offset: int = 0,
             order: str = "id DESC", **match) -> list[Run]:
        """Runs in one of `statuses` (all when None); `match` filters on equal columns (sweep_id=3, user='ana')."""
        stmt = select(runs)
        if statuses:
            stmt = stmt.where(runs.c.status.in_(statuses))
        for key, value in match.items():
            stmt = stmt.where(runs.c[key] == value)
        rows = self._read(stmt.order_by(*ORDERS[order]).limit(limit).offset(offset))
        return [to_run(r) for r in rows]

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
        return [to_run(r) for r in self._read(stmt.order_by(runs.c.id.desc()).limit(limit).offset(offset))]

    def count_matching(self, statuses=(), name_contains: str = "", presets=(), users=()) -> int:
        stmt = select(func.count()).select_from(runs).where(_filters(statuses, name_contains, presets, users))
        return int(self._read(stmt)[0][0])

    def best_val(self) -> Run | None:
        """The finished run with the highest validation accuracy (the oldest of a tie)."""
        rows = self._read(select(runs).where(runs.c.status == "finished", runs.c.val_acc.is_not(None))
                          .order_by(runs.c.val_acc.desc(), runs.c.id).limit(1))
        return to_run(rows[0]) if rows else None

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
