"""Where a run's worker executes: local spawned processes (the default) or units of work on a Ray cluster.

An executor starts `python -m fmnist worker RUN_ID`, tells whether that work is still alive (and why not),
cancels it and reads its log. It never writes the store: the supervisor (fmnist.supervisor) does."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Liveness:
    alive: bool
    reason: str | None = None  # why the work ended, in a user's words, when alive is False
    pending: bool = False      # alive but not started yet (waiting for the cluster's resources): no heartbeat owed


class Executor(Protocol):
    name: str

    def start(self, run_id: int) -> str:
        """Launch the worker for `run_id`; returns an opaque handle the store keeps (runs.handle)."""

    def liveness(self, handle: str) -> Liveness:
        """Is the work behind `handle` still running? If not, why it ended."""

    def cancel(self, handle: str) -> None:
        """End the work at once (the run's status is the supervisor's business)."""

    def log(self, handle: str, run_id: int) -> str:
        """The worker's log so far (the tail is enough)."""


def for_settings(settings) -> Executor:
    if settings.executor == "ray":
        from fmnist.executors.ray_jobs import RayExecutor
        return RayExecutor(settings)
    from fmnist.executors.local import LocalExecutor
    return LocalExecutor(settings)
