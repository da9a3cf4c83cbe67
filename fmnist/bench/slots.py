"""Group `slots`: two identical runs at once (FMNIST_SLOTS=2, one thread each) against the same two one after
another (FMNIST_SLOTS=1, the default thread budget), each side a real queue worked by `python -m fmnist supervise`.

The wall time runs from starting the supervisor until both runs have ended, so both sides pay its start once
and the one-after-another side pays the second worker's start too, as it would in use."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time

from fmnist import jobs, presets
from fmnist.bench.load import CACHE_FILE, _end_group
from fmnist.bench.measure import Figure, alternate, compare
from fmnist.executors.local import child_env
from fmnist.settings import REPO_ROOT, default_threads, load
from fmnist.store import Store

PAIR_TIMEOUT_S = 1800


def run(ctx) -> list[Figure]:
    ctx.split()  # the cache each side's workspace copies
    threads = default_threads(os.cpu_count() or 1)
    sides = {"at_once": {"FMNIST_SLOTS": "2", "FMNIST_THREADS_PER_RUN": "1"},
             "one_after_another": {"FMNIST_SLOTS": "1", "FMNIST_THREADS_PER_RUN": str(threads)}}
    counter = iter(range(10_000))
    at_once, in_turn = alternate(lambda: _pair(ctx, sides["at_once"], next(counter)),
                                 lambda: _pair(ctx, sides["one_after_another"], next(counter)), ctx.plan.slots_reps)
    what = f"two mlp1 runs, {ctx.plan.slots_n:,} images, {ctx.plan.slots_epochs} epochs"
    fig_at_once = Figure("slots.at_once", f"{what}: at once (2 slots, 1 thread each), wall", "s",
                         [w for w, _ in at_once], note=_run_note(at_once))
    fig_in_turn = Figure("slots.one_after_another", f"{what}: one after another (1 slot, {threads} threads), wall",
                         "s", [w for w, _ in in_turn], note=_run_note(in_turn))
    compare(fig_at_once, fig_in_turn)
    ctx.notes.append(f"slots: two runs at once took {fig_at_once.ratio:.2f}x the wall time of the same two one "
                     f"after another ({fig_at_once.median:.1f} s vs {fig_in_turn.median:.1f} s).")
    return [fig_in_turn, fig_at_once]


def _run_note(pairs: list[tuple[float, list[float]]]) -> str:
    seconds = [s for _, each in pairs for s in each]
    return "each run's own seconds: " + ", ".join(f"{s:.1f}" for s in seconds)


def _pair(ctx, env: dict[str, str], k: int) -> tuple[float, list[float]]:
    """(wall seconds until both runs ended, each run's recorded seconds) for one queue of two runs."""
    home = ctx.tmp / f"slots-{k}"
    settings = dataclasses.replace(load(), home=home.resolve(), database_url=None, executor="local",
                                   slots=int(env["FMNIST_SLOTS"]), threads_per_run=int(env["FMNIST_THREADS_PER_RUN"]))
    settings.ensure_dirs()
    if (ctx.settings.cache_dir / CACHE_FILE).exists():
        shutil.copy(ctx.settings.cache_dir / CACHE_FILE, settings.cache_dir)
    store = Store(settings.db_path)
    try:
        base = dataclasses.replace(presets.config_for("mlp1"), subset=ctx.plan.slots_n, epochs=ctx.plan.slots_epochs,
                                   early_stopping=False, user="slots-bench")
        ids = [jobs.submit(dataclasses.replace(base, name=f"slots run {i + 1}"), store, settings) for i in range(2)]
        child = child_env(settings, FMNIST_EXECUTOR="local", **env)
        child.pop("FMNIST_DATABASE_URL", None)
        start = time.perf_counter()
        with open(settings.logs_dir / "supervise.log", "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "fmnist", "supervise"], cwd=REPO_ROOT, env=child,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            while any(store.get(r).active for r in ids):
                if time.perf_counter() - start > PAIR_TIMEOUT_S:
                    raise RuntimeError(f"the two runs did not end within {PAIR_TIMEOUT_S} s")
                time.sleep(0.1)
            wall = time.perf_counter() - start
        finally:
            _end_group(proc)
        done = [store.get(r) for r in ids]
        if any(r.status != "finished" for r in done):
            raise RuntimeError("a timed run did not finish: " + "; ".join(f"{r.id} {r.status} {r.error or ''}"
                                                                          for r in done))
        return wall, [r.seconds or 0.0 for r in done]
    finally:
        store.close()
