"""Group `cluster`, part two: the run store's write and read latency on SQLite against PostgreSQL, under a class.

Both stores hold the same finished runs and a few live ones. For a while, one writer thread writes what
workers write (an epoch's row, a heartbeat) to the live runs, while N reader threads poll as the sessions of
a class do (the run list, a live run's epochs). Every call is timed as its caller sees it, in this one
process, so Python's own contention weighs on both sides alike. PostgreSQL is FMNIST_DATABASE_URL when it
names one (the bench's runs are deleted after), else a throw-away server started here; without one, this part
is skipped."""
from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from fmnist import local_servers, presets
from fmnist.bench.measure import Figure, alternate, compare
from fmnist.store import Store

LIVE_RUNS = 4         # runs being written while the class watches
WRITE_EVERY_S = 0.05  # the writer's pace: 4 live runs, an epoch and a heartbeat each, 10 times a second
POLL_S = 0.1          # a reader's pause between polls: far busier than a live chart's 1-2 s, to load the store
OPS = {"add_epoch": "write: one epoch's row and the heartbeat", "heartbeat": "write: a heartbeat",
       "runs": "read: the run list (runs())", "epochs": "read: a live run's epochs"}
USER = "store-bench"


def run(ctx) -> list[Figure]:
    with _postgres(ctx) as url:
        if url is None:
            return []
        sqlite, postgres = Store(ctx.tmp / "store-latency.db"), Store(url)
        on_sqlite, on_pg = [], []
        try:
            on_sqlite += _seed(sqlite, ctx.plan.cluster_store_runs)
            on_pg += _seed(postgres, ctx.plan.cluster_store_runs)
            counter = itertools.count(1)
            lite, pg = alternate(lambda: _load(sqlite, on_sqlite, ctx.plan, next(counter)),
                                 lambda: _load(postgres, on_pg, ctx.plan, next(counter)), ctx.plan.cluster_store_reps)
        finally:
            if ctx.settings.database_url:  # not the bench's own database: leave it as it was
                _unseed(postgres, on_pg)
            sqlite.close()
            postgres.close()
    return _figures(ctx, _pool(lite), _pool(pg))


def _figures(ctx, lite: dict, pg: dict) -> list[Figure]:
    load = f"{ctx.plan.cluster_readers} readers and a writer"
    figures = []
    for op, what in OPS.items():
        base = Figure(f"cluster.store.{op}.sqlite", f"{what}, SQLite, {load}", "ms", lite[op],
                      note=f"p95 {np.percentile(lite[op], 95):.2f} ms")
        other = Figure(f"cluster.store.{op}.postgresql", f"{what}, PostgreSQL, {load}", "ms", pg[op],
                       note=f"p95 {np.percentile(pg[op], 95):.2f} ms")
        figures += [base, compare(other, base)]
    by = {f.name: f for f in figures}
    ctx.notes.append("cluster: PostgreSQL against SQLite under " + load + ": " + ", ".join(
        f"{op} {by[f'cluster.store.{op}.postgresql'].ratio:.2f}x" for op in OPS) + " (median latency).")
    return figures


def _pool(reps: list[dict]) -> dict[str, list[float]]:
    out = defaultdict(list)
    for rep in reps:
        for op, samples in rep.items():
            out[op] += samples
    return out


def _seed(store: Store, finished: int) -> list[int]:
    """`finished` ended runs and LIVE_RUNS running ones; returns the live ones' ids first, then the rest."""
    config = presets.config_for("mlp1", user=USER, name="store bench")
    done = [store.create_run(config, status="finished") for _ in range(finished)]
    live = [store.create_run(config, status="running") for _ in range(LIVE_RUNS)]
    return live + done


def _unseed(store: Store, ids: list[int]) -> None:
    for run_id in ids:
        store.mark_stopped(run_id, "benchmark ended")
        store.delete(run_id)


def _load(store: Store, seeded: list[int], plan, rep: int) -> dict[str, list[float]]:
    """Every call's milliseconds, by operation, for plan.cluster_store_s seconds of one writer and N readers."""
    live = seeded[:LIVE_RUNS]
    samples: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []

    def timed(op: str, call, *args) -> None:
        start = time.perf_counter()
        call(*args)
        ms = (time.perf_counter() - start) * 1000
        with lock:
            samples[op].append(ms)

    def guarded(body):
        def loop():
            try:
                body()
            except BaseException as exc:  # noqa: BLE001 - reported after the threads end
                errors.append(exc)
                done.set()
        return loop

    def writer():
        for epoch in itertools.count(rep * 1_000_000 + 1):  # each repetition its own epoch numbers
            if done.is_set():
                return
            for run_id in live:
                metrics = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.78, "seconds": 1.0}
                timed("add_epoch", store.add_epoch, run_id, epoch, metrics)
                timed("heartbeat", store.heartbeat, run_id)
            time.sleep(WRITE_EVERY_S)

    def reader(k: int):
        watched = live[k % len(live)]
        while not done.is_set():
            timed("runs", store.runs)
            timed("epochs", store.epochs, watched)
            time.sleep(POLL_S)

    threads = [threading.Thread(target=guarded(writer), daemon=True)]
    threads += [threading.Thread(target=guarded(lambda k=k: reader(k)), daemon=True)
                for k in range(plan.cluster_readers)]
    for t in threads:
        t.start()
    done.wait(plan.cluster_store_s)
    done.set()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return dict(samples)


@contextmanager
def _postgres(ctx):
    """FMNIST_DATABASE_URL when it is PostgreSQL, or a server started (and stopped) here; None (and a skip) without."""
    url = ctx.settings.database_url
    if url and url.startswith("postgresql"):
        yield url
        return
    try:
        server = local_servers.start_postgres()
    except (local_servers.Unavailable, RuntimeError) as exc:
        ctx.skip("cluster.store", f"no PostgreSQL: {exc}".splitlines()[0][:300])
        yield None
        return
    try:
        yield server.url()
    finally:
        server.stop()
