"""Seed spread: one configuration repeated with other seeds, grouped, so a class sees which differences are noise."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from fmnist import jobs, nets
from fmnist.config import ConfigError
from fmnist.schema import ACTIVE, runs as runs_table
from fmnist.settings import Settings
from fmnist.store import QueueFull, Run, Store

MAX_SEEDS = 10
ACCURACIES = (("train_acc", "Train"), ("val_acc", "Val"), ("test_acc", "Test"))


def group_key(config) -> str:
    """The same for every run of one configuration whatever its seed, name or pace."""
    data = json.loads(config.to_json())
    for key in ("seed", "name", "user", "pace_s"):  # a demo's pace changes how fast, not what is learnt
        data.pop(key, None)
    return "seeds-" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def repeat(run: Run, k: int, store: Store, settings: Settings, user: str | None = None) -> list[int]:
    """Queue `k` runs of `run`'s configuration with seeds after its own; with it they form one group.

    All k are queued or none: the queue's room is checked first."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_SEEDS:
        raise ConfigError({"seeds": f"repeat with 1 to {MAX_SEEDS} other seeds (got {k!r})"})
    if run.parent_id is not None:
        raise ConfigError({"seeds": f"Run {run.id} continues another run; repeat the run it started from."})
    base = run.run_config()
    base = base.with_(user=base.user if user is None else user)
    base.validate()
    nets.check_size(base, settings.max_params)
    _check_room(store, settings, base.user, k)
    key = group_key(base)
    _join(store, run.id, key)
    stem = (base.name or base.preset)[:60]
    return [jobs.submit(base.with_(seed=(base.seed + i) % 2**31, name=f"{stem} · seed {(base.seed + i) % 2**31}"),
                        store, settings, group_key=key) for i in range(1, k + 1)]


def _check_room(store: Store, settings: Settings, user: str, k: int) -> None:
    queued = store.count(statuses=("queued",))
    if queued + k > settings.queue_cap:
        raise QueueFull(f"The queue has room for {settings.queue_cap - queued} more runs, not {k}: "
                        "ask for fewer seeds or wait for runs to finish.")
    cap = store.user_caps().get(user, settings.active_per_user)
    mine = store.count(statuses=ACTIVE, user=user)
    if mine + k > cap:
        raise QueueFull(f"{mine} of your runs are active or waiting and the limit is {cap} a person: ask for at "
                        f"most {max(cap - mine, 0)} seeds, or wait for runs to finish.")


def _join(store: Store, run_id: int, key: str) -> None:
    """The original run joins the group (a run already in one keeps its group)."""
    with store.write() as c:
        c.execute(runs_table.update().where(runs_table.c.id == run_id, runs_table.c.group_key.is_(None))
                  .values(group_key=key))


def grouped_runs(store: Store, limit: int = 2000) -> dict[str, list[Run]]:
    """Runs that belong to a seed group, by group, newest group first."""
    groups: dict[str, list[Run]] = {}
    for run in store.runs(limit=limit):
        if run.group_key and run.group_key.startswith("seeds-"):
            groups.setdefault(run.group_key, []).append(run)
    return {key: sorted(members, key=lambda r: r.id) for key, members in groups.items()}


def group_frame(groups: dict[str, list[Run]]) -> pd.DataFrame:
    """One row a group: the mean and sample standard deviation (ddof=1) of each accuracy over its finished runs.

    A test accuracy counts only once that run's test evaluation was opened, as in the runs table."""
    rows = []
    for key, members in groups.items():
        done = [r for r in members if r.status == "finished"]
        row = {"Group": key, "Model": members[0].name.split(" · seed ")[0], "Preset": members[0].preset,
               "Runs": len(members), "Finished": len(done),
               "Seeds": ", ".join(str(r.run_config().seed) for r in members)}
        for field, label in ACCURACIES:
            values = [getattr(r, field) for r in done if getattr(r, field) is not None
                      and (field != "test_acc" or r.test_views > 0)]
            row[f"{label} mean"] = float(np.mean(values)) if values else None
            row[f"{label} std"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        rows.append(row)
    columns = ["Group", "Model", "Preset", "Runs", "Finished", "Seeds"] + [
        f"{label} {stat}" for _, label in ACCURACIES for stat in ("mean", "std")]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: float for c in columns[6:]})  # a column of only None stays numeric (NaN)


def group_curves(store: Store, members: list[Run]) -> list[pd.DataFrame]:
    """Each member's epochs, for the spread band."""
    return [pd.DataFrame(store.epochs(r.id)) for r in members if r.status in ("finished", "stopped", "running")]
