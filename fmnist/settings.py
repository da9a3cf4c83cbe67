"""Where the workspace lives and the lab's limits, read once from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; the message says which and what to do."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; unset it or give one.") from None


@dataclass(frozen=True)
class Settings:
    home: Path
    data_dir: Path | None
    # Runs at once: the cores divided by each run's thread budget (1 on a 2-core machine: two fits
    # there each run at half speed and finish no sooner).
    slots: int = 1
    # Threads a worker gives TensorFlow's ops and scikit-learn, so that `slots` runs fill the
    # machine without oversubscribing it.
    threads_per_run: int = 2
    # A worker's niceness (local or a Ray job's): on a class server the pages (nice 0) get the cores first
    # and training takes what is left, so forty students' refreshes do not queue behind two fits.
    worker_nice: int = 10
    queue_cap: int = 20
    active_per_user: int = 5
    # A worker beats at least every 10 s; six missed beats means it is hung.
    heartbeat_timeout: int = 60
    run_time_limit: int = 4 * 3600
    # Fits every preset (ResNet50 at 96 px is 24.1 M) and keeps a shared server usable.
    max_params: int = 30_000_000
    executor: str = "local"          # "local": spawned processes; "ray": jobs on a Ray cluster
    ray_address: str | None = None   # FMNIST_RAY_ADDRESS, host:port as `ray start --head` prints it
    database_url: str | None = None  # FMNIST_DATABASE_URL; unset: the SQLite file in the workspace

    @property
    def db_path(self) -> Path:
        return self.home / "runs.db"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def ensure_dirs(self) -> None:
        try:
            for path in (self.home, self.models_dir, self.cache_dir, self.logs_dir):
                path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"The workspace {self.home} cannot be created or written ({exc.strerror}); "
                                "set FMNIST_HOME to a folder you can write to.") from exc


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "").strip().lower() or default
    if raw not in allowed:
        raise SettingsError(f"{name}={raw!r} is not one of {', '.join(allowed)}; unset it or pick one.")
    return raw


def _url(name: str) -> str | None:
    raw = os.environ.get(name, "").strip()
    if raw and not raw.startswith(("postgresql", "sqlite")):
        raise SettingsError(f"{name} must be a postgresql://user@host:port/db (or sqlite:///file) URL; "
                            "unset it to use the workspace's SQLite file.")
    return raw or None


def default_threads(cpus: int) -> int:
    """All cores for one run on a 2-core machine, two on 4-7 cores, four from 8 (more helps one small fit little)."""
    return max(1, min(4, cpus // 2 if cpus >= 4 else cpus))


def load() -> Settings:
    home = Path(os.environ.get("FMNIST_HOME") or REPO_ROOT / ".fmnist").expanduser()
    data = os.environ.get("FMNIST_DATA_DIR")
    cpus = os.cpu_count() or 1
    threads = max(1, _int("FMNIST_THREADS_PER_RUN", default_threads(cpus)))
    return Settings(
        home=home.resolve(),
        data_dir=Path(data).expanduser() if data else None,
        slots=max(1, _int("FMNIST_SLOTS", max(1, cpus // threads))),
        threads_per_run=threads,
        worker_nice=min(19, max(0, _int("FMNIST_WORKER_NICE", 10))),
        executor=_choice("FMNIST_EXECUTOR", "local", ("local", "ray")),
        ray_address=os.environ.get("FMNIST_RAY_ADDRESS", "").strip() or None,
        database_url=_url("FMNIST_DATABASE_URL"),
        queue_cap=max(1, _int("FMNIST_QUEUE_CAP", 20)),
        active_per_user=max(1, _int("FMNIST_ACTIVE_PER_USER", 5)),
        heartbeat_timeout=max(5, _int("FMNIST_HEARTBEAT_TIMEOUT", 60)),
        run_time_limit=max(1, _int("FMNIST_RUN_TIME_LIMIT", 4 * 3600)),
        max_params=max(1000, _int("FMNIST_MAX_PARAMS", 30_000_000)),
    )
