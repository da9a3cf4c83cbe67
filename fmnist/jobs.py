"""Background runs as a user sees them: submit one to the queue, stop one, list what is active.

Nothing here starts or reaps work: that is fmnist.supervisor's job, so that listing runs never changes them."""
from __future__ import annotations

import hashlib
import os
import time

from fmnist import nets
from fmnist.config import RunConfig
from fmnist.executors.local import handle_of
from fmnist.settings import Settings
from fmnist.store import Run, Store

DOUBLE_SUBMIT_WINDOW_S = 10  # the same form sent twice within this is one run


class NoSuchRun(LookupError):
    """A run id that is not in the store; the message says so in a user's words."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such run"


def submit(config: RunConfig, store: Store, settings: Settings, **extra) -> int:
    """Validate and queue; returns the run id at once (the supervisor starts it when a slot is free).

    `extra` records lineage (parent_id, sweep_id, group_key) beside the run."""
    config.validate()
    nets.check_size(config, settings.max_params)
    run_id, _created = store.enqueue(config, dedup_key(config, extra), DOUBLE_SUBMIT_WINDOW_S,
                                     settings.queue_cap, settings.active_per_user, **extra)
    return run_id


def dedup_key(config: RunConfig, extra: dict | None = None) -> str:
    lineage = "".join(f"|{k}={v}" for k, v in sorted((extra or {}).items()))
    return hashlib.sha256((config.to_json() + lineage).encode()).hexdigest()


def stop(run_id: int, store: Store, settings: Settings) -> str:
    """Ask a run to stop: a queued run is stopped at once, a running one within seconds."""
    run = store.get(run_id)
    if run is None:
        raise NoSuchRun(f"There is no run {run_id}.")
    if run.status == "queued":
        store.mark_stopped(run_id, "removed from the queue")
    elif run.status == "running":
        store.request_stop(run_id)
    return (store.get(run_id) or run).status


def active_runs(store: Store) -> list[Run]:
    """Running runs first, then the queue in the order it will start. A pure read."""
    return store.runs(statuses=("running", "queued"), order="queue")


def create_foreground(store: Store, config) -> int:
    """A run this very process executes (`train`, `reproduce`): running from the start, never queued,
    so no supervisor can hand it to a second worker."""
    return store.create_run(config, status="running", executor="local", handle=handle_of(os.getpid()),
                            started_at=time.time(), heartbeat=time.time())
