"""The worker process: `python -m fmnist worker RUN_ID`."""
from __future__ import annotations

import logging
import os
import threading

import psutil

from fmnist import jobs, runner, settings as settings_mod
from fmnist.store import RunGone, Store, StoreError

BEAT_S = 5.0  # covers the long quiet phases (data load, final evaluation, saving)


def _beat_forever(settings, run_id: int, done: threading.Event) -> None:
    store = Store(settings.db_path, create=False)  # SQLite connections stay in their own thread
    try:
        while not done.wait(BEAT_S):
            try:
                store.heartbeat(run_id)
            except RunGone:
                return
            except StoreError as exc:
                logging.warning("heartbeat failed: %s", exc)
    finally:
        store.close()


def main(run_id: int) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_mod.load()
    store = Store(settings.db_path, create=False)
    proc_start = psutil.Process(os.getpid()).create_time()
    done = threading.Event()
    beat = threading.Thread(target=_beat_forever, args=(settings, run_id, done), daemon=True)
    try:
        store.mark_running(run_id, os.getpid(), proc_start)
        beat.start()
        logging.info("run %s started in pid %s", run_id, os.getpid())
        status = runner.execute(store, settings, run_id, proc_start)
        logging.info("run %s ended: %s", run_id, status)
    except RunGone as exc:
        logging.warning("%s; nothing to do", exc)
        status = "gone"
    finally:
        done.set()
    jobs.refresh(store, settings)  # hand the freed slot to the next queued run
    return 0 if status in ("finished", "stopped", "gone") else 1
