"""Background runs: a queue in the store, spawned worker processes, heartbeats, reaping, stopping.

The store is the single source of truth; this module only moves runs between its states and
makes sure no run stays 'running' once its process is gone."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import psutil

from fmnist import nets
from fmnist.config import RunConfig
from fmnist.settings import REPO_ROOT, Settings
from fmnist.store import Run, Store

DOUBLE_SUBMIT_WINDOW_S = 10  # the same form sent twice within this is one run
STOP_GRACE_S = 15            # a worker that ignores a stop request this long is killed
START_GRACE_S = 120          # a claimed run whose worker never confirmed (import + data load)

# Workers this process launched, so the reaper can report their exit code or signal.
_children: dict[int, subprocess.Popen] = {}


def submit(config: RunConfig, store: Store, settings: Settings) -> int:
    """Validate, queue, and start a worker if a slot is free. Returns the run id at once."""
    config.validate()
    nets.check_size(config, settings.max_params)
    run_id, _created = store.enqueue(config, dedup_key(config), DOUBLE_SUBMIT_WINDOW_S,
                                     settings.queue_cap, settings.active_per_user)
    refresh(store, settings)
    return run_id


def dedup_key(config: RunConfig) -> str:
    return hashlib.sha256(config.to_json().encode()).hexdigest()


def stop(run_id: int, store: Store, settings: Settings) -> str:
    """Ask a run to stop: a queued run is stopped at once, a running one within seconds."""
    run = store.get(run_id)
    if run is None:
        raise KeyError(f"There is no run {run_id}.")
    if run.status == "queued":
        store.mark_stopped(run_id, "removed from the queue")
    elif run.status == "running":
        store.request_stop(run_id)
    return (store.get(run_id) or run).status


def refresh(store: Store, settings: Settings) -> None:
    """Reap dead workers, then start queued runs in free slots. Every listing calls this first."""
    reap(store, settings)
    pump(store, settings)


def reap(store: Store, settings: Settings) -> list[int]:
    reaped = []
    for run in store.runs(statuses=("running",)):
        verdict = _judge(run, settings)
        if verdict is None:
            continue
        status, reason, kill = verdict
        if kill and run.pid:
            _kill(run.pid)
        ended = store.mark_failed(run.id, reason) if status == "failed" else store.mark_stopped(run.id, reason)
        if ended:
            reaped.append(run.id)
    return reaped


def _judge(run: Run, settings: Settings) -> tuple[str, str, bool] | None:
    """None while the run is healthy, else (final status, reason, whether to kill its process)."""
    now = time.time()
    beat_age = now - (run.heartbeat or run.started_at or run.created_at)
    if run.pid is None:
        return ("failed", "worker never started", False) if beat_age > START_GRACE_S else None
    if not alive(run.pid, run.proc_start):
        return "failed", _death_reason(run.pid), False
    if beat_age > settings.heartbeat_timeout:
        return "failed", f"no heartbeat for {settings.heartbeat_timeout} s", True
    if run.stop_requested_at and now - run.stop_requested_at > STOP_GRACE_S:
        return "stopped", "stopped by request (the worker was killed after not stopping in time)", True
    if run.started_at and now - run.started_at > settings.run_time_limit + STOP_GRACE_S:
        return "stopped", f"time limit of {settings.run_time_limit} s reached", True
    return None


def alive(pid: int, proc_start: float | None) -> bool:
    """Is this pid still our worker? (Not gone, not a zombie, not a new process reusing the pid.)"""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return proc_start is None or abs(proc.create_time() - proc_start) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _death_reason(pid: int) -> str:
    child = _children.pop(pid, None)
    code = child.poll() if child else None
    if code is None:
        return "worker died: its process is gone"
    if code < 0:
        return f"worker died: signal {-code}"
    return f"worker died: exit code {code}"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child = _children.get(pid)
    if child:
        child.wait(timeout=5)


def pump(store: Store, settings: Settings) -> list[int]:
    """Start queued runs, oldest first, while slots are free; the check and the claim are one transaction."""
    started = []
    with store.write() as c:
        running = c.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]
        free = settings.slots - running
        rows = c.execute("SELECT id FROM runs WHERE status='queued' ORDER BY id LIMIT ?", (max(free, 0),)).fetchall()
        for (run_id,) in rows:
            proc = spawn_worker(run_id, settings)
            c.execute("UPDATE runs SET status='running', pid=?, proc_start=?, started_at=?, heartbeat=? WHERE id=?",
                      (proc.pid, _create_time(proc.pid), time.time(), time.time(), run_id))
            started.append(run_id)
    return started


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None


def spawn_worker(run_id: int, settings: Settings) -> subprocess.Popen:
    """A fresh interpreter (never a fork: TensorFlow and SQLite break across fork), logging to the workspace."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.logs_dir / f"run-{run_id}.log", "ab")
    env = {**os.environ, "FMNIST_HOME": str(settings.home), "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "fmnist", "worker", str(run_id)], cwd=REPO_ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # outlives a restart of the server that started it
    finally:
        log.close()
    _children[proc.pid] = proc
    return proc


def active_runs(store: Store, settings: Settings) -> list[Run]:
    refresh(store, settings)
    return store.runs(statuses=("running", "queued"), order="status='queued', id")
