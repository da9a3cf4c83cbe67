"""What the sweep page and the command line show of a sweep: its trials as a table, the best so far,
parameter importance, a one-line summary, and waiting for it to end. Reads only."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from fmnist.settings import Settings
from fmnist.store import Run, Store
from fmnist.sweep_spec import MAX_TRIALS, PARAMS, short
from fmnist.sweep_store import Sweep
from fmnist.sweeps import get, study


def trials_frame(store: Store, settings: Settings, sweep: Sweep) -> pd.DataFrame:
    """One row a trial: its run, state, hyperparameters and validation accuracy."""
    runs = {r.id: r for r in store.runs(sweep_id=sweep.id, limit=MAX_TRIALS * 4)}
    keys = _keys(sweep)
    rows = []
    for t in study(sweep, settings).get_trials(deepcopy=False):
        run: Run | None = runs.get(t.user_attrs.get("run_id"))
        if run is None and t.state.name == "WAITING":
            continue  # a retry not yet asked for: it shows once it runs
        rows.append({"Trial": t.number + 1, "Run": run.id if run else None,
                     "State": _state(t, run), **{PARAMS[k].label: t.params.get(k) for k in keys},
                     "Val accuracy": run.val_acc if run else None, "Epochs": run.epochs if run else None,
                     "Note": (run.error if run and run.status != "finished" else None) or t.user_attrs.get("error")})
    frame = pd.DataFrame(rows, columns=["Trial", "Run", "State", *(PARAMS[k].label for k in keys),
                                        "Val accuracy", "Epochs", "Note"])
    return frame.astype({"Run": "Int64", "Epochs": "Int64"})


def _state(trial, run: Run | None) -> str:
    if trial.state.name == "PRUNED":
        return "pruned"
    if run is None:
        return trial.state.name.lower()
    return run.status


def _keys(sweep: Sweep) -> list[str]:
    """The hyperparameters in the order the user gave them (the stored JSON sorts a dict's keys)."""
    return sweep.spec.get("params") or [*sweep.spec["grid"], *sweep.spec["ranges"]]


def param_labels(sweep: Sweep) -> dict[str, str]:
    return {k: PARAMS[k].label for k in _keys(sweep)}


def log_axes(sweep: Sweep) -> list[str]:
    """The labels of the hyperparameters searched on a log scale (drawn on a log axis)."""
    return [PARAMS[k].label for k, (_lo, _hi, log_scale) in sweep.spec["ranges"].items() if log_scale]


def importance(settings: Settings, sweep: Sweep) -> dict[str, float]:
    """Optuna's parameter importance (fANOVA) by label; empty until two trials with different values finished."""
    import optuna
    st = study(sweep, settings)
    done = [t for t in st.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(done) < 2:
        return {}
    try:
        found = optuna.importance.get_param_importances(st)
    except (RuntimeError, ValueError):  # e.g. every finished trial had the same values
        return {}
    return {PARAMS[k].label: float(v) for k, v in found.items()}


@dataclass(frozen=True)
class Best:
    trial: int
    run_id: int | None
    value: float
    params: dict
    final: bool = False  # the sweep has ended: no later trial can beat it

    def text(self) -> str:
        values = ", ".join(f"{PARAMS[k].label.lower()} {short(v)}" for k, v in self.params.items())
        run = f" (run #{self.run_id})" if self.run_id else ""
        lead = "Best" if self.final else "Best so far"
        return f"{lead}: trial {self.trial}{run}, validation accuracy {self.value:.4f} with {values}"


def best(settings: Settings, sweep: Sweep) -> Best | None:
    done = [t for t in study(sweep, settings).get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        return None
    top = max(done, key=lambda t: (t.value, -t.number))
    return Best(top.number + 1, top.user_attrs.get("run_id"), float(top.value), dict(top.params),
                final=sweep.status != "active")


def summary_line(store: Store, settings: Settings, sweep: Sweep) -> str:
    frame = trials_frame(store, settings, sweep)
    counts = frame["State"].value_counts().to_dict() if len(frame) else {}
    parts = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no trials yet"
    return f"sweep {sweep.id} ({sweep.name}) {sweep.status}: {sweep.spec['trials']} trials asked, {parts}"


def wait(store: Store, settings: Settings, sweep_id: int, poll_s: float = 2.0, on_change=None) -> Sweep:
    """Block until the sweep is done or stopped; `on_change(line)` hears each change of its summary."""
    last = None
    while True:
        sweep = get(store, sweep_id)
        line = summary_line(store, settings, sweep)
        if line != last and on_change:
            on_change(line)
        last = line
        if sweep.status != "active":
            return sweep
        time.sleep(poll_s)
