"""A test playing the executor and the worker: a queued run put into "running" by hand.

The lab itself only claims through `Store.claim_next` (the supervisor, oldest first); a test that needs one
particular run running, with a pid or handle of its choosing, writes the row as claim and worker would."""
from __future__ import annotations

import time

from fmnist.schema import runs


def start_by_hand(store, run_id: int, pid: int | None = None, proc_start: float | None = None,
                  executor: str = "local", handle: str | None = None) -> bool:
    """queued -> running; False when the run was not queued."""
    now = time.time()
    with store.write() as c:
        return c.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "queued").values(
            status="running", pid=pid, proc_start=proc_start, started_at=now, heartbeat=now,
            executor=executor, handle=handle)).rowcount == 1
