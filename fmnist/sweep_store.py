"""The sweeps table: one row a sweep (its spec as JSON and its status), read and written through a Store.

Kept beside fmnist.store rather than in it: it uses only the store's transactions and the schema's tables."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import select

from fmnist.schema import runs, sweeps as sweeps_table
from fmnist.store import Store, StoreError

SWEEP_STATUSES = ("active", "stopped", "done")


@dataclass(frozen=True)
class Sweep:
    id: int
    name: str
    spec: dict
    user: str
    status: str
    created_at: float

    @property
    def study_name(self) -> str:
        return f"fmnist-sweep-{self.id}"


def _sweep(row) -> Sweep:
    m = row._mapping
    return Sweep(m["id"], m["name"], json.loads(m["spec"]), m["user"], m["status"], m["created_at"])


def create_sweep(store: Store, name: str, spec: dict, user: str = "") -> int:
    with store.write() as c:
        cur = c.execute(sweeps_table.insert().values(name=name, spec=json.dumps(spec, sort_keys=True), user=user,
                                                     status="active", created_at=time.time())
                        .returning(sweeps_table.c.id))
        return int(cur.scalar_one())


def get_sweep(store: Store, sweep_id: int) -> Sweep | None:
    rows = store._read(select(sweeps_table).where(sweeps_table.c.id == sweep_id))
    return _sweep(rows[0]) if rows else None


def set_sweep_status(store: Store, sweep_id: int, status: str, only_from: tuple[str, ...] | None = None) -> bool:
    """Change a sweep's status (only from one of `only_from` when given); True if it changed."""
    if status not in SWEEP_STATUSES:
        raise StoreError(f"A sweep's status is one of {', '.join(SWEEP_STATUSES)} (got {status!r}).")
    stmt = sweeps_table.update().where(sweeps_table.c.id == sweep_id)
    if only_from:
        stmt = stmt.where(sweeps_table.c.status.in_(only_from))
    with store.write() as c:
        return c.execute(stmt.values(status=status)).rowcount == 1


def sweeps(store: Store, statuses: tuple[str, ...] | None = None, limit: int = 200) -> list[Sweep]:
    """Sweeps, newest first."""
    stmt = select(sweeps_table)
    if statuses:
        stmt = stmt.where(sweeps_table.c.status.in_(statuses))
    return [_sweep(r) for r in store._read(stmt.order_by(sweeps_table.c.id.desc()).limit(limit))]


def note_on_run(store: Store, run_id: int, reason: str) -> None:
    """Replace an ended run's reason (a pruned trial reads 'pruned by the sweep: ...', not 'stopped by request')."""
    with store.write() as c:
        c.execute(runs.update().where(runs.c.id == run_id, runs.c.status.in_(("stopped", "failed")))
                  .values(error=reason[:500]))
