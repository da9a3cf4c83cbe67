"""The worker process: `python -m fmnist worker RUN_ID`."""
from __future__ import annotations

import logging
import os

import psutil

from fmnist import jobs, runner, settings as settings_mod
from fmnist.store import RunGone, Store


def main(run_id: int) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_mod.load()
    store = Store(settings.db_path, create=False)
    proc_start = psutil.Process(os.getpid()).create_time()
    try:
        logging.info("run %s starting in pid %s", run_id, os.getpid())
        status = runner.execute(store, settings, run_id, proc_start)  # marks it running and beats until it ends
        logging.info("run %s ended: %s", run_id, status)
    except RunGone as exc:
        logging.warning("%s; nothing to do", exc)
        status = "gone"
    jobs.refresh(store, settings)  # hand the freed slot to the next queued run
    return 0 if status in ("finished", "stopped", "gone") else 1
