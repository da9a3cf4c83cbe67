"""How far a run has got and how long it will take: epoch-time estimates, progress, ETA, queue rows, labels."""
from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

from fmnist.config import RunConfig
from fmnist.store import Run, Store

TRAIN_IMAGES = 42_000
VAL_IMAGES = 18_000
# A validation image costs a forward pass only, about a third of a training image's forward + backward.
VAL_WEIGHT = 1 / 3
HISTORY_RUNS = 200  # how many recent ended runs an estimate looks through
MATCH_RUNS = 5      # how many matching runs it takes its epoch times from


def _work(subset: int | None) -> float:
    """One epoch's work in training-image units: the (subset of the) training set plus the validation pass."""
    return (subset or TRAIN_IMAGES) + VAL_WEIGHT * VAL_IMAGES


def scale_epoch_seconds(seconds: float, from_subset: int | None, to_subset: int | None) -> float:
    return seconds * _work(to_subset) / _work(from_subset)


def epoch_seconds_estimate(config: RunConfig, store: Store) -> float | None:
    """Expected seconds a (Keras) epoch of `config`: median epoch time of recent ended runs with the same model
    and batch size, scaled to this subset size. None when no such run exists."""
    if not config.is_keras:
        return None
    scaled = []
    matches = 0
    for run in store.runs(statuses=("finished", "stopped"), limit=HISTORY_RUNS):
        past = run.run_config()
        if past.model != config.model or past.batch_size != config.batch_size or past.augment != config.augment:
            continue
        per_epoch = steady_epoch_seconds(store.epochs(run.id))
        if per_epoch is None:
            continue
        scaled.append(scale_epoch_seconds(per_epoch, past.subset, config.subset))
        matches += 1
        if matches == MATCH_RUNS:
            break
    return statistics.median(scaled) if scaled else None


def steady_epoch_seconds(epochs: list[dict]) -> float | None:
    """Median epoch time, leaving out the first epoch once there are others: it also builds the graph."""
    seconds = [e["seconds"] for e in epochs if e.get("seconds")]
    return statistics.median(seconds[1:] or seconds) if seconds else None


@dataclass(frozen=True)
class Progress:
    done: int               # epochs finished
    total: int              # epochs asked for (an upper bound with early stopping)
    elapsed: float | None   # seconds since the worker started it
    remaining: float | None  # estimated seconds left, None when unknown
    upper_bound: bool       # early stopping may end it sooner
    active: bool = True

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def text(self) -> str:
        parts = [f"Epoch {self.done} of {self.total}"]
        if self.elapsed is not None:
            parts.append(f"{duration(self.elapsed)} elapsed")
        if not self.active:
            pass
        elif self.remaining is None:
            parts.append("time left unknown until the first epoch")
        elif self.done < self.total:
            parts.append(f"about {duration(self.remaining)} left" + (" at most" if self.upper_bound else ""))
        return " · ".join(parts)


def progress(run: Run, epochs: list[dict], estimate: float | None = None, now: float | None = None) -> Progress:
    """Progress of `run` from its epoch rows; the time left is the steady epoch time so far times the epochs
    to go (or `estimate` per epoch before the first one lands)."""
    config = run.run_config()
    total = config.epochs if config.is_keras else 1
    done = len(epochs)
    end = run.ended_at or (now if now is not None else time.time())
    elapsed = end - run.started_at if run.started_at else None
    per_epoch = steady_epoch_seconds(epochs) or estimate
    remaining = None if per_epoch is None else per_epoch * max(total - done, 0)
    return Progress(done, total, elapsed, remaining, config.is_keras and config.early_stopping, run.active)


def duration(seconds: float) -> str:
    """42 -> '42 s', 185 -> '3 min 05 s', 3720 -> '1 h 02 min'."""
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def about(seconds: float) -> str:
    """An estimate in words: 'under a second' rather than 'about 0 s'."""
    return "under a second" if seconds < 0.5 else f"about {duration(seconds)}"


def curve_marks(run: Run, epochs: list[dict]) -> tuple[int | None, int | None]:
    """(best epoch, early-stop epoch) for the chart: the best validation accuracy so far, and where
    early stopping ended the run."""
    best = run.best_epoch
    if best is None:
        scored = [e for e in epochs if e.get("val_accuracy") is not None]
        best = max(scored, key=lambda e: e["val_accuracy"])["epoch"] if scored else None
    stopped = run.epochs if run.stopped_early and run.epochs else None
    return best, stopped


def label(run: Run) -> str:
    """'#12 Single hidden layer · finished · val 0.8867 · alice'"""
    parts = [f"#{run.id} {run.name}", run.status]
    if run.val_acc is not None:
        parts.append(f"val {run.val_acc:.4f}")
    if run.user:
        parts.append(run.user)
    return " · ".join(parts)


def queue_rows(active: list[Run], now: float | None = None) -> list[dict]:
    """Active and waiting runs, as the queue shows them (running first, then in queue order)."""
    now = now if now is not None else time.time()
    rows = []
    for position, run in enumerate(r for r in active if r.status == "queued"):
        rows.append(_queue_row(run, f"waiting, #{position + 1} in line", now - run.created_at))
    running = [_queue_row(r, f"running, epoch {r.epochs or 0} of {_total(r)}", now - (r.started_at or now))
               for r in active if r.status == "running"]
    return running + rows


def _total(run: Run) -> int:
    config = run.run_config()
    return config.epochs if config.is_keras else 1


def _queue_row(run: Run, state: str, since: float) -> dict:
    return {"id": run.id, "name": run.name, "user": run.user or "(no name)", "state": state,
            "for": duration(since), "stopping": run.stop_requested_at is not None}


def verdict(run: Run) -> tuple[str, str] | None:
    """How the page reports an ended run: (level, text) with level error / info / success; None while active."""
    if run.status == "failed":
        return "error", f"This run failed: {run.error or 'no reason was recorded'}"
    if run.status == "stopped":
        return "info", f"Stopped: {run.error or 'stopped by request'}"
    if run.status == "finished":
        scores = " · ".join(f"{name} {value:.4f}" for name, value in (("train", run.train_acc),
                                                                        ("validation", run.val_acc)) if value is not None)
        return "success", f"Finished after {run.epochs} epoch{'s' if run.epochs != 1 else ''}: {scores}"
    return None


def selected_run(query: str, store: Store) -> tuple[Run | None, str | None]:
    """The run named by the URL's ?run= value, or a warning saying it does not exist."""
    if not query:
        return None, None
    run = store.get(int(query)) if re.fullmatch(r"[0-9]{1,18}", query) else None  # SQLite ids fit in 18 digits
    return (run, None) if run else (None, f"There is no run '{query}'. Choose one from the list below.")
