"""The one place that moves runs on their own: reaps dead or hung work, starts queued runs in free slots.

One supervisor holds the store's lease at a time (an app server's thread, or `python -m fmnist supervise`
for a command-line queue); page polls and listings only read. A second app server on the same store
stands by and takes over when the lease lapses."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

from fmnist import executors, sweeps
from fmnist.executors import Executor
from fmnist.settings import REPO_ROOT, Settings
from fmnist.store import Run, Store, StoreError

log = logging.getLogger("fmnist.supervisor")

LEASE = "supervisor"
TICK_S = 1.0          # how often the supervisor looks; a stop or a death shows within about this
LEASE_TTL_S = 15.0    # a supervisor that has not renewed for this long is presumed gone
STOP_GRACE_S = 15     # a worker that ignores a stop request this long is killed
START_GRACE_S = 120   # a claimed run whose worker never confirmed (imports + data load)


def judge(run: Run, settings: Settings, executor: Executor, now: float | None = None) -> tuple[str, str, bool] | None:
    """None while a running run is healthy, else (final status, reason, whether to cancel its work)."""
    now = time.time() if now is None else now
    beat_age = now - (run.heartbeat or run.started_at or run.created_at)
    if not run.handle:
        return ("failed", "worker never started", False) if beat_age > START_GRACE_S else None
    if run.executor not in (None, executor.name):
        return None  # another kind of executor's run: its own supervisor judges it
    alive = executor.liveness(run.handle)
    if not alive.alive:
        return "failed", alive.reason or "worker died", False
    if alive.pending:  # the cluster has not placed it yet; a stop request still ends it
        return ("stopped", "removed before it started", True) if run.stop_requested_at else None
    if beat_age > settings.heartbeat_timeout:
        return "failed", f"no heartbeat for {settings.heartbeat_timeout} s", True
    if run.stop_requested_at and now - run.stop_requested_at > STOP_GRACE_S:
        return "stopped", "stopped by request (the worker was killed after not stopping in time)", True
    if run.started_at and now - run.started_at > settings.run_time_limit + STOP_GRACE_S:
        return "stopped", f"time limit of {settings.run_time_limit} s reached", True
    return None


def reap(store: Store, settings: Settings, executor: Executor) -> list[int]:
    reaped = []
    for run in store.runs(statuses=("running",)):
        verdict = judge(run, settings, executor)
        if verdict is None:
            continue
        status, reason, cancel = verdict
        if cancel and run.handle:
            executor.cancel(run.handle)
        ended = store.mark_failed(run.id, reason) if status == "failed" else store.mark_stopped(run.id, reason)
        if ended:
            log.info("run %s %s: %s", run.id, status, reason)
            reaped.append(run.id)
    return reaped


def schedule(store: Store, settings: Settings, executor: Executor) -> list[int]:
    """Claim queued runs for the free slots (one transaction), then launch each outside it."""
    started = []
    for run_id in store.claim_next(slots(settings, executor), executor.name):
        try:
            handle = executor.start(run_id)
        except Exception as exc:  # noqa: BLE001 - whatever the executor raised, the run must not stay claimed
            store.mark_failed(run_id, f"could not start its worker: {' '.join(str(exc).split())[:300]}")
            continue
        if not store.set_handle(run_id, handle):  # stopped while starting
            executor.cancel(handle)
        started.append(run_id)
    return started


def slots(settings: Settings, executor: Executor) -> int:
    """Runs at once: this machine's slots, or what a cluster can place (no more, or they would wait unbeating)."""
    capacity = getattr(executor, "capacity", None)
    if capacity is None:
        return settings.slots
    try:
        return capacity()
    except Exception as exc:  # noqa: BLE001 - an unreachable cluster starts nothing new this tick
        log.warning("cluster capacity unknown: %s", exc)
        return 0


def tick(store: Store, settings: Settings, executor: Executor) -> tuple[list[int], list[int]]:
    reaped = reap(store, settings, executor)
    sweeps.advance_safely(store, settings)  # never raises: a sweep's error must not stop the queue
    return reaped, schedule(store, settings, executor)


class Supervisor:
    """A daemon thread that ticks while it holds the lease; `wake()` makes it look at once (after a submit)."""

    def __init__(self, store: Store, settings: Settings, executor: Executor | None = None):
        self.store, self.settings = store, settings
        self.executor = executor or executors.for_settings(settings)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake, self._done = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fmnist-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join(timeout=10)
        try:
            self.store.release_lease(LEASE, self.holder)
        except StoreError:
            pass

    def step(self) -> bool:
        """One tick if this supervisor holds the lease; False when another one does."""
        if not self.store.take_lease(LEASE, self.holder, LEASE_TTL_S):
            return False
        tick(self.store, self.settings, self.executor)
        return True

    def _loop(self) -> None:
        while not self._done.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a bad tick (a locked or unreachable store) must not end supervision
                log.exception("supervisor tick failed")
            self._wake.wait(TICK_S)
            self._wake.clear()


def run_until_idle(store: Store, settings: Settings, idle_s: float = 5.0) -> None:
    """`python -m fmnist supervise`: supervise until nothing is queued or running for `idle_s`."""
    sup = Supervisor(store, settings)
    quiet_since = None
    try:
        while True:
            sup.step()
            if store.count(statuses=("queued", "running")):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > idle_s:
                return
            time.sleep(TICK_S)
    finally:
        store.release_lease(LEASE, sup.holder)


def ensure_one(store: Store, settings: Settings) -> bool:
    """Start a background `supervise` process unless a supervisor holds the lease; True if one was started."""
    probe = f"probe:{uuid.uuid4().hex[:8]}"
    if not store.take_lease(LEASE, probe, 0.0):  # a live holder exists (a 0 s lease expires at once)
        return False
    from fmnist.executors.local import child_env
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.logs_dir / "supervisor.log", "ab") as out:
        subprocess.Popen([sys.executable, "-m", "fmnist", "supervise"], cwd=REPO_ROOT, env=child_env(settings),
                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return True


_threads: dict[str, Supervisor] = {}
_threads_lock = threading.Lock()


def ensure_thread(settings: Settings) -> Supervisor:
    """The supervisor thread of this process for the settings' store, started on first use.

    Kept here rather than in a page cache, so that clearing Streamlit's caches never leaves two running."""
    where = settings.database_url or str(settings.db_path)
    with _threads_lock:
        sup = _threads.get(where)
        if sup is None or not sup._thread.is_alive():
            sup = _threads[where] = Supervisor(Store.open(settings), settings).start()
        return sup


def stop_threads() -> None:
    """Stop every supervisor thread of this process (a server shutting down; a test ending)."""
    with _threads_lock:
        sups = list(_threads.values())
        _threads.clear()
    for sup in sups:
        sup.stop()
