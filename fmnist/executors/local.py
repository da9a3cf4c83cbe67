"""Workers as spawned processes on this machine (the default; nothing extra to install)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import psutil

from fmnist.executors import Liveness
from fmnist.settings import REPO_ROOT, Settings

# Workers this process launched, so an exit code or signal can be reported (another process sees only "gone").
_children: dict[int, subprocess.Popen] = {}
_children_lock = threading.Lock()


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of any child interpreter of the lab: the same workspace, this checkout, TF kept quiet."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "FMNIST_HOME": str(settings.home), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    if settings.database_url:
        env["FMNIST_DATABASE_URL"] = settings.database_url
    return {**env, **extra}


def handle_of(pid: int) -> str:
    try:
        return f"{pid}:{psutil.Process(pid).create_time():.3f}"
    except psutil.NoSuchProcess:
        return f"{pid}:0"


def _parse(handle: str) -> tuple[int, float]:
    pid, _, started = handle.partition(":")
    return int(pid), float(started or 0)


class LocalExecutor:
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings

    def start(self, run_id: int) -> str:
        """A fresh interpreter (never a fork: TensorFlow and SQLite break across fork), logging to the workspace."""
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log_path(run_id), "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "fmnist.worker", str(run_id)], cwd=REPO_ROOT,
                                    env=child_env(self.settings), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)  # outlives a restart of the server that started it
        with _children_lock:
            _children[proc.pid] = proc
        return handle_of(proc.pid)

    def liveness(self, handle: str) -> Liveness:
        pid, started = _parse(handle)
        with _children_lock:
            child = _children.get(pid)
        if child is not None and child.poll() is not None:
            with _children_lock:
                _children.pop(pid, None)
            code = child.returncode
            return Liveness(False, f"worker died: signal {-code}" if code < 0 else f"worker died: exit code {code}")
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return Liveness(False, "worker died: its process is gone")
            if started and abs(proc.create_time() - started) >= 1.0:  # the pid was reused by a stranger
                return Liveness(False, "worker died: its process is gone")
            return Liveness(True)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return Liveness(False, "worker died: its process is gone")

    def cancel(self, handle: str) -> None:
        pid, _ = _parse(handle)
        if not self.liveness(handle).alive:
            return
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker leads its own session: take any children with it
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        with _children_lock:
            child = _children.get(pid)
        if child is not None:
            child.wait(timeout=5)

    def log(self, handle: str, run_id: int) -> str:
        path = self._log_path(run_id)
        return path.read_text(errors="replace")[-20_000:] if path.exists() else ""

    def _log_path(self, run_id: int):
        return self.settings.logs_dir / f"run-{run_id}.log"


def kill_children() -> list[int]:
    """Kill every worker this process launched that still runs; returns their pids."""
    with _children_lock:
        children = list(_children.values())
        _children.clear()
    killed = []
    for child in children:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                child.kill()
            child.wait(timeout=10)
            killed.append(child.pid)
    return killed
