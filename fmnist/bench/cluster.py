"""Group `cluster`, part one: the cost of a run through Ray against the same run through the local executor.

Each side is what an app server does: `jobs.submit` into a store, a supervisor that starts the worker (a
spawned process, or a Ray Job on the head at FMNIST_RAY_ADDRESS, else on a head started here). Read back
from the store's own timestamps: submission to the first epoch's row, the wall time between epoch rows
after the first (against the epoch's own seconds: the difference is what each epoch pays besides its fit),
and submission to finished. The store is the workspace's SQLite file, or FMNIST_DATABASE_URL when set (a
remote cluster's nodes cannot reach a local file); there the bench's runs are deleted after."""
from __future__ import annotations

import dataclasses
import shutil
import time
from contextlib import contextmanager

from fmnist import jobs, local_servers, presets
from fmnist.bench.load import CACHE_FILE
from fmnist.bench.measure import Figure, alternate, compare
from fmnist.store import Store
from fmnist.supervisor import Supervisor

RUN_TIMEOUT_S = 600
SIDES = ("local", "ray")
USER = "cluster-bench"


def run(ctx) -> list[Figure]:
    ctx.split()  # the cache each workspace copies
    with _ray_address(ctx) as address:
        if address is None:
            return []
        counter = iter(range(10_000))
        local, ray = alternate(lambda: _one_run(ctx, "local", None, next(counter)),
                               lambda: _one_run(ctx, "ray", address, next(counter)), ctx.plan.cluster_reps)
    what = f"mlp1, {ctx.plan.cluster_n:,} images, {ctx.plan.cluster_epochs} epochs"
    figures = []
    for key, figure in (("first_epoch", "submission to the first epoch in the store"),
                        ("epoch_wall", "wall between epoch rows, epochs after the first"),
                        ("finished", "submission to finished in the store")):
        base = Figure(f"cluster.{key}.local", f"{what}: {figure}, local executor", "s",
                      [s for r in local for s in r[key]], note=_own_note(local, key))
        through = Figure(f"cluster.{key}.ray", f"{what}: {figure}, Ray job", "s",
                         [s for r in ray for s in r[key]], note=_own_note(ray, key))
        figures += [base, compare(through, base)]
    extra = {side: Figure(f"cluster.epoch_extra.{side}", f"{what}: wall between epoch rows less the fit's own "
                                                        f"epoch seconds, {label}", "ms",
                          [s * 1000 for r in rs for s in r["overhead"]])
             for side, label, rs in (("local", "local executor", local), ("ray", "Ray job", ray))}
    if extra["local"].median > 0:
        compare(extra["ray"], extra["local"])
    figures += extra.values()
    ctx.notes.append(_finding({f.name: f for f in figures}, "FMNIST_DATABASE_URL" if ctx.settings.database_url
                              else "the workspace's SQLite file"))
    return figures


def _finding(by: dict[str, Figure], store: str) -> str:
    first, local = by["cluster.first_epoch.ray"], by["cluster.first_epoch.local"]
    return (f"cluster: through Ray a run reached its first epoch in {first.median:.1f} s against {local.median:.1f} s "
            f"locally ({first.ratio:.2f}x); an epoch's wall was {by['cluster.epoch_wall.ray'].ratio:.2f}x the local "
            f"one, of which {by['cluster.epoch_extra.ray'].median:.1f} ms (Ray) and "
            f"{by['cluster.epoch_extra.local'].median:.1f} ms (local) were not the fit's own seconds; the whole run "
            f"took {by['cluster.finished.ray'].ratio:.2f}x. The store: {store}.")


def _own_note(results: list[dict], key: str) -> str:
    if key != "epoch_wall":
        return ""
    return "the fit's own epoch seconds: " + ", ".join(f"{s:.2f}" for r in results for s in r["own"])


@contextmanager
def _ray_address(ctx):
    """FMNIST_RAY_ADDRESS, or a local head started (and stopped) here; None (and a skip) where there is none."""
    if ctx.settings.ray_address:
        yield ctx.settings.ray_address
        return
    try:
        head = local_servers.start_ray_head(num_cpus=2)
    except (local_servers.Unavailable, RuntimeError) as exc:
        ctx.skip("cluster.ray", f"no Ray head: {exc}".splitlines()[0][:300])
        yield None
        return
    try:
        yield head.address
    finally:
        head.stop()


def _one_run(ctx, side: str, address: str | None, k: int) -> dict:
    """One run submitted and supervised as an app server would; its seconds read from the store's timestamps."""
    settings = dataclasses.replace(ctx.settings, home=(ctx.tmp / f"cluster-{side}-{k}").resolve(), executor=side,
                                   ray_address=address, slots=1)
    settings.ensure_dirs()
    if (ctx.settings.cache_dir / CACHE_FILE).exists():
        shutil.copy(ctx.settings.cache_dir / CACHE_FILE, settings.cache_dir)
    store = Store.open(settings)
    sup = Supervisor(store, settings).start()
    config = dataclasses.replace(presets.config_for("mlp1"), subset=ctx.plan.cluster_n, epochs=ctx.plan.cluster_epochs,
                                 early_stopping=False, user=USER, name=f"cluster bench {side} {k}")
    run_id = None
    try:
        run_id = jobs.submit(config, store, settings)
        sup.wake()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (got := store.get(run_id)).active:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {side} run did not end within {RUN_TIMEOUT_S} s")
            time.sleep(0.2)
        if got.status != "finished" or got.executor != side:
            raise RuntimeError(f"the {side} run ended {got.status} on executor {got.executor}: {got.error or ''}")
        return _seconds(got, store.epochs(run_id))
    finally:
        sup.stop()
        if run_id is not None:
            _end(store, sup, run_id, shared=bool(settings.database_url))
        store.close()


def _seconds(run, epochs: list[dict]) -> dict:
    ends = [e["ended_at"] for e in epochs]
    walls = [b - a for a, b in zip(ends, ends[1:])]
    own = [e["seconds"] for e in epochs[1:]]
    return {"first_epoch": [ends[0] - run.created_at], "epoch_wall": walls, "own": own,
            "overhead": [w - o for w, o in zip(walls, own)], "finished": [run.ended_at - run.created_at]}


def _end(store: Store, sup: Supervisor, run_id: int, shared: bool) -> None:
    """No work outlives the measurement; in a database that is not the bench's own, its run goes too."""
    run = store.get(run_id)
    if run and run.active:
        if run.handle:
            sup.executor.cancel(run.handle)
        store.mark_failed(run_id, "benchmark ended")
    if shared:
        store.delete(run_id)
