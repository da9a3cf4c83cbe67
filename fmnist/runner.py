"""Execute one stored run: the body of a worker process and of a foreground `train`."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from contextlib import contextmanager

from fmnist import artifacts, data, system
from fmnist.config import ConfigError
from fmnist.data import DatasetError, load_split
from fmnist.nets import WeightsError, resolved_precision
from fmnist.settings import Settings
from fmnist.store import RunGone, Store, StoreError
from fmnist.train import Hooks, TrainingFailed, fit

log = logging.getLogger("fmnist.runner")
EXPECTED = (ConfigError, TrainingFailed, WeightsError, DatasetError, artifacts.ArtifactError, MemoryError)
BEAT_S = 5.0  # also covers the quiet phases no callback sees: data load, refit, evaluation, saving


def _beat_forever(store: Store, run_id: int, done: threading.Event) -> None:
    while not done.wait(BEAT_S):
        try:
            store.heartbeat(run_id)  # the store's pool gives this thread its own connection
        except RunGone:
            return
        except StoreError as exc:
            log.warning("heartbeat failed: %s", exc)


@contextmanager
def beating(store: Store, run_id: int):
    """Heartbeats from a thread while the body runs, so that no reaper takes a busy run for a dead one."""
    done = threading.Event()
    thread = threading.Thread(target=_beat_forever, args=(store, run_id, done), daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


def store_hooks(store: Store, run_id: int, time_limit: float) -> Hooks:
    started = time.monotonic()

    def should_stop() -> str | None:
        if store.stop_requested(run_id):
            return "stopped by request"
        if time.monotonic() - started > time_limit:
            return f"time limit of {int(time_limit)} s reached"
        return None

    return Hooks(on_epoch=lambda epoch, metrics: store.add_epoch(run_id, epoch, metrics), should_stop=should_stop)


def execute(store: Store, settings: Settings, run_id: int, proc_start: float | None = None) -> str:
    """Run `run_id` to its end; returns the final status. Never leaves the run 'running'."""
    run = store.get(run_id)
    if run is None:
        raise RunGone(f"run {run_id} does not exist")
    store.mark_running(run_id, os.getpid(), proc_start, socket.gethostname())
    with beating(store, run_id):  # from before TensorFlow's import, which can take a minute on a busy machine
        return _execute(store, settings, run, run_id)


def _execute(store: Store, settings: Settings, run, run_id: int) -> str:
    try:
        system.limit_threads(settings.threads_per_run)
        config = run.run_config()
        if settings.executor != "local" and (missing := data.missing_dataset_message(settings)):
            raise DatasetError(missing)  # a cluster node without the dataset: say which and what to install
        split = load_split(settings)
        if run.parent_id and config.initial_model:  # a continued run on a node that lacks the parent's file
            artifacts.fetch(store, store.get(run.parent_id), settings.models_dir)
        if config.is_keras:
            log.info("run %s computes in %s", run_id, resolved_precision(config.precision))
        result = fit(config, split, store_hooks(store, run_id, settings.run_time_limit))
        saved = _save(store, settings, run_id, config.model.kind, result.model)
        if result.stop_reason:  # kept with its model, so that a stopped run can be continued
            store.mark_stopped(run_id, result.stop_reason, {**result.fields(), **saved})
            return "stopped"
        store.finish(run_id, {**result.fields(), **saved})
        return "finished"
    except RunGone:
        log.warning("run %s was ended elsewhere (stopped or reaped); the worker exits", run_id)
        return (store.get(run_id) or run).status
    except EXPECTED as exc:
        log.error("run %s failed: %s", run_id, exc)
        log.info("its traceback:\n%s", traceback.format_exc())  # into a worker's log; not onto a CLI user's screen
        store.mark_failed(run_id, one_line(exc))
        return "failed"
    except BaseException as exc:  # noqa: BLE001 - the run must end, whatever broke
        log.error("run %s crashed:\n%s", run_id, traceback.format_exc())
        store.mark_failed(run_id, f"{exc.__class__.__name__}: {one_line(exc)}" if str(exc) else exc.__class__.__name__)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return "failed"


def _save(store: Store, settings: Settings, run_id: int, kind: str, model) -> dict:
    if model is None:
        return {}
    path = settings.models_dir / f"run-{run_id}{artifacts.suffix_for(kind)}"
    digest = artifacts.save(model, kind, path)
    if settings.executor != "local":  # the app server may share no filesystem with this node
        store.put_artifact(run_id, digest, path.suffix, path.read_bytes())
    return {"model_path": str(path), "model_sha256": digest}


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or exc.__class__.__name__
