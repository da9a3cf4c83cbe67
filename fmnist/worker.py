"""The worker process: `python -m fmnist.worker RUN_ID` (entered directly, not through the CLI parser)."""
from __future__ import annotations

import logging
import os
import sys

import psutil


def main(run_id: int) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from fmnist import runner, settings as settings_mod, system
    from fmnist.store import RunGone, Store
    settings = settings_mod.load()
    system.lower_priority(settings.worker_nice)  # the app server's pages first, training after
    store = Store.open(settings, create=False)
    proc_start = psutil.Process(os.getpid()).create_time()
    try:
        logging.info("run %s starting in pid %s", run_id, os.getpid())
        status = runner.execute(store, settings, run_id, proc_start)  # confirms it runs and beats until it ends
        logging.info("run %s ended: %s", run_id, status)
    except RunGone as exc:
        logging.warning("%s; nothing to do", exc)
        status = "gone"
    finally:
        store.close()
    return 0 if status in ("finished", "stopped", "gone") else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m fmnist.worker RUN_ID")
    sys.exit(main(int(sys.argv[1])))
