"""How far a run has got and how long it will take: epoch-time estimates, progress, ETA, queue rows, the run picker."""
from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

import pandas as pd

from fmnist import charts, labels, layer_table, system
from fmnist.config import RunConfig
from fmnist.store import Run, Store

TRAIN_IMAGES = 42_000
VAL_IMAGES = 18_000
# A validation image costs a forward pass only, about a third of a training image's forward + backward.
VAL_WEIGHT = 1 / 3
HISTORY_RUNS = 200  # how many recent ended runs an estimate looks through
MATCH_RUNS = 5      # how many matching runs it takes its epoch times from
TRAIN_COST = 3      # a training image costs about three forward passes (forward, and backward twice as much)
CALIBRATION_MACS = 1_000_000  # smaller models are bound by per-batch overhead, not arithmetic: no use for a rate
# measured: float32, Multi CNN on a busy 2-core CPU (36e9 for the old lab_best on a quiet one); bfloat16,
# lab_best's 12.1 s epochs on a 2-core Xeon with AMX
DEFAULT_MACS_PER_S = {"float32": 20e9, "bfloat16": 227e9}


def _work(subset: int | None) -> float:
    """One epoch's work in training-image units: the (subset of the) training set plus the validation pass."""
    return (subset or TRAIN_IMAGES) + VAL_WEIGHT * VAL_IMAGES


def scale_epoch_seconds(seconds: float, from_subset: int | None, to_subset: int | None) -> float:
    return seconds * _work(to_subset) / _work(from_subset)


def epoch_seconds_estimate(config: RunConfig, store: Store) -> float | None:
    """Expected seconds a (Keras) epoch of `config`: median epoch time of recent ended runs with the same model,
    batch size, augmentation and precision, scaled to this subset size. None when no such run exists."""
    if not config.is_keras:
        return None
    scaled = []
    for run, per_epoch in _timed_runs(store):
        past = run.run_config()
        if (past.model, past.batch_size, past.augment, past.precision) == (
                config.model, config.batch_size, config.augment, config.precision):
            scaled.append(scale_epoch_seconds(per_epoch, past.subset, config.subset))
            if len(scaled) == MATCH_RUNS:
                break
    return statistics.median(scaled) if scaled else None


def _timed_runs(store: Store):
    """(run, steady seconds an epoch) of recent ended runs that have epoch times, newest first."""
    for run in store.runs(statuses=("finished", "stopped"), limit=HISTORY_RUNS):
        per_epoch = steady_epoch_seconds(store.epochs(run.id))
        if per_epoch is not None:
            yield run, per_epoch


def rough_epoch_seconds(config: RunConfig, store: Store | None = None) -> float | None:
    """A guess for a model never run here: its multiply-adds an image, times the images an epoch, at the
    speed earlier convolutional runs of its precision reached here (DEFAULT_MACS_PER_S when there are none)."""
    if not config.is_keras:
        return None
    rates = []
    for run, per_epoch in (_timed_runs(store) if store is not None else ()):
        past = run.run_config()
        macs = layer_table.multiply_adds(past)
        if past.is_keras and macs >= CALIBRATION_MACS and past.precision == config.precision:
            rates.append(TRAIN_COST * macs * _work(past.subset) / per_epoch)
            if len(rates) == MATCH_RUNS:
                break
    rate = statistics.median(rates) if rates else _default_rate(config.precision)
    return TRAIN_COST * layer_table.multiply_adds(config) * _work(config.subset) / rate


def _default_rate(precision: str) -> float:
    """DEFAULT_MACS_PER_S for a precision; "auto" by this machine's CPU (a page never asks TensorFlow)."""
    if precision == "auto":
        precision = "bfloat16" if system.cpu_computes_bfloat16() else "float32"
    return DEFAULT_MACS_PER_S[precision]


@dataclass(frozen=True)
class EpochGuess:
    seconds: float
    rough: bool  # from the model's size, not from runs of this very model

    def text(self) -> str:
        if self.rough:
            return (f"Expected time per epoch: roughly {duration(self.seconds)}, a rough guess from the network's "
                    "size (no run of it here yet); the first epoch will tell.")
        return f"Expected time per epoch: {about(self.seconds)} (from earlier runs)"


def expected_epoch(config: RunConfig, store: Store) -> EpochGuess | None:
    """From earlier runs of the same model when there are any, else a rough guess from its size; a demo's pace
    is the least an epoch takes."""
    seconds = epoch_seconds_estimate(config, store)
    if seconds is not None:
        return EpochGuess(max(seconds, config.pace_s), rough=False)
    seconds = rough_epoch_seconds(config, store)
    return EpochGuess(max(seconds, config.pace_s), rough=True) if seconds is not None else None


def steady_epoch_seconds(epochs: list[dict]) -> float | None:
    """Median epoch time, leaving out the first epoch once there are others: it also builds the graph."""
    seconds = [e["seconds"] for e in epochs if e.get("seconds")]
    return statistics.median(seconds[1:] or seconds) if seconds else None


@dataclass(frozen=True)
class Progress:
    status: str
    done: int               # epochs finished
    total: int              # epochs asked for (an upper bound with early stopping)
    elapsed: float | None   # seconds since the worker started it
    remaining: float | None  # estimated seconds left, None when unknown
    upper_bound: bool       # early stopping or a time budget may end it sooner
    rough: bool = False     # the time left rests on a rough guess, not on this model's epochs
    position: int | None = None  # a queued run's place in line
    minutes: float | None = None  # its time budget

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def fraction(self) -> float:
        if self.status == "finished" and self.done:
            return 1.0  # early stopping or its budget may have ended it before `total`
        return min(1.0, self.done / self.total) if self.total else 0.0

    def text(self) -> str:
        """'Running · Epoch 2 of 6 · 14 s elapsed · about 23 s left'; a queued run says where it waits."""
        if self.status == "queued":
            where = f", #{self.position} in line" if self.position else ""
            return f"Queued · waiting for a free training slot{where}"
        parts = [self.status.capitalize(), f"Epoch {self.done} of {self.total}"]
        if self.minutes is not None:
            ended = self.status == "finished" and self.done < self.total
            parts.append(f"{'ended by its ' if ended else ''}{self.minutes:g}-minute budget")
        if self.elapsed is not None:
            parts.append(f"{duration(self.elapsed)} elapsed")
        if self.active and self.remaining is None:
            parts.append("time left unknown until the first epoch")
        elif self.active and self.done < self.total:
            left = f"roughly {duration(self.remaining)}" if self.rough else about(self.remaining)
            # before the first epoch the worker's start-up (TensorFlow, data, graph) has no known length
            left += f" for {self.total} epochs after start-up" if self.done == 0 else " left"
            parts.append(left + (" at most" if self.upper_bound else ""))
        return " · ".join(parts)


def progress(run: Run, epochs: list[dict], estimate: float | None = None, now: float | None = None,
             position: int | None = None, rough: bool = False) -> Progress:
    """Progress of `run` from its epoch rows. The time left is the epoch time (the steady time so far, or
    `estimate` before the first epoch, and never under the run's demo pace) times the epochs to go, less the
    time already spent in the current epoch, counted from the last epoch row's `ended_at`; with a time
    budget, never more than the budget has left."""
    config = run.run_config()
    total, done = _total(run), len(epochs)
    now = now if now is not None else time.time()
    elapsed = (run.ended_at or now) - run.started_at if run.started_at else None
    measured = steady_epoch_seconds(epochs)
    per_epoch = max(measured or estimate, config.pace_s) if (measured or estimate) is not None else None
    remaining = None
    if per_epoch is not None and run.status != "queued":
        since = epochs[-1].get("ended_at") if epochs else None
        spent = min(max(now - since, 0.0), per_epoch) if since and run.active else 0.0
        remaining = max(per_epoch * max(total - done, 0) - spent, 0.0)
        if config.minutes is not None and config.is_keras:  # the budget counts the epochs' own seconds
            budget_left = config.minutes * 60 - sum(e.get("seconds") or 0.0 for e in epochs) - spent
            remaining = min(remaining, max(budget_left, 0.0))
    return Progress(run.status, done, total, elapsed, remaining,
                    config.is_keras and (config.early_stopping or config.minutes is not None),
                    rough and measured is None, position, config.minutes if config.is_keras else None)


def queue_position(run: Run, active: list[Run]) -> int | None:
    """1 for the next queued run to start, and so on; None for a run that is not waiting."""
    waiting = [r.id for r in active if r.status == "queued"]
    return waiting.index(run.id) + 1 if run.id in waiting else None


def duration(seconds: float) -> str:
    """42 -> '42 s', 185 -> '3 min 05 s', 3720 -> '1 h 02 min'."""
    s = round(max(seconds, 0))
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


def curves(run: Run, epochs: list[dict]):
    """The run's accuracy and loss curves. With no epoch yet the chart says why, inside the accuracy panel
    (centred between the panels the note sat on the loss axis title)."""
    fig = charts.training_curves(pd.DataFrame(epochs), *curve_marks(run, epochs), title=run.name)
    if not epochs:
        note = "Waiting for the first epoch…" if run.active else "No epoch was completed."
        fig.update_annotations(selector={"text": "Waiting for the first epoch…"}, text=note,
                               x=sum(fig.layout.xaxis.domain) / 2, xanchor="center")
    return fig


def picker_labels(current: Run | None, store: Store, limit: int = 200) -> dict[int, str]:
    """The run picker's options, newest first; an older run opened from its URL is listed too."""
    options = {r.id: labels.with_status(r) for r in store.runs(limit=limit)}
    if current and current.id not in options:
        options = {current.id: labels.with_status(current), **options}
    return options


def queue_rows(active: list[Run], now: float | None = None) -> list[dict]:
    """Active and waiting runs, as the queue shows them (running first, then in queue order)."""
    now = now if now is not None else time.time()
    rows = []
    for position, run in enumerate(r for r in active if r.status == "queued"):
        rows.append(_queue_row(run, f"waiting, #{position + 1} in line", now - run.created_at))
    running = [_queue_row(r, f"running, epoch {_own_epochs(r)} of {_total(r)}", now - (r.started_at or now))
               for r in active if r.status == "running"]
    return running + rows


def _own_epochs(run: Run) -> int:
    """Epochs this run has trained (a continued run's epoch numbers start after its parent's)."""
    return max((run.epochs or 0) - run.run_config().initial_epoch, 0)


def _total(run: Run) -> int:
    config = run.run_config()
    return config.epochs if config.is_keras else 1


def _queue_row(run: Run, state: str, since: float) -> dict:
    return {"id": run.id, "label": labels.short(run), "user": run.user or "(no name)", "state": state,
            "for": duration(since), "stopping": run.stop_requested_at is not None}


def verdict(run: Run) -> tuple[str, str] | None:
    """How the page reports an ended run: (level, text) with level error / info / success; None while active."""
    if run.status == "failed":
        return "error", f"This run failed: {run.error or 'no reason was recorded'}"
    if run.status == "stopped":
        return "info", f"Stopped: {run.error or 'stopped by request'}"
    if run.status == "finished":
        pairs = (("train", run.train_acc), ("validation", run.val_acc))
        scores = " · ".join(f"{name} {value:.4f}" for name, value in pairs if value is not None)
        return "success", f"Finished after {run.epochs} epoch{'s' if run.epochs != 1 else ''}: {scores}"
    return None


def selected_run(query: str, store: Store) -> tuple[Run | None, str | None]:
    """The run named by the URL's ?run= value, or a warning saying it does not exist."""
    if not query:
        return None, None
    run = store.get(int(query)) if re.fullmatch(r"[0-9]{1,18}", query) else None  # SQLite ids fit in 18 digits
    return (run, None) if run else (None, f"There is no run '{query}'. Choose one from the list below.")
