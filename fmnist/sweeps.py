"""Sweeps: an Optuna study whose trials are ordinary queued runs, tagged with the sweep's id.

The study lives beside the run store (the workspace's optuna.db, or the same PostgreSQL database), so a
sweep survives a restart. The supervisor's tick calls `advance`: it reports each running trial's epochs
(validation accuracy) to the pruner and stops a trial the pruner gives up on, tells Optuna how ended trials
did, and asks for new trials while the trial cap allows."""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass

import pandas as pd

from fmnist import jobs, sweep_store
from fmnist.config import ConfigError, RunConfig
from fmnist.settings import Settings
from fmnist.store import QueueFull, Run, Store, StoreError
from fmnist.sweep_store import Sweep

log = logging.getLogger("fmnist.sweeps")

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("median", "halving")
MAX_TRIALS = 100
DEFAULT_TRIALS = 8  # random and TPE: enough to see a trend on a classroom CPU
# Pruning compares a trial with earlier ones at the same epoch: a class's sweep has a handful of trials,
# so the median pruner waits for two finished ones rather than Optuna's default five.
MEDIAN_STARTUP_TRIALS = 2
HALVING_REDUCTION = 2  # keep the better half at each rung (Optuna's 4 prunes most of a small sweep)
TPE_STARTUP_TRIALS = 3  # random trials before the model-based sampler takes over


@dataclass(frozen=True)
class Param:
    field: str     # a RunConfig field, or a ModelSpec field when `on_model`
    kind: str      # "float", "int" or "choice"
    label: str
    on_model: bool = False


PARAMS = {
    "learning_rate": Param("learning_rate", "float", "Learning rate"),
    "batch_size": Param("batch_size", "int", "Batch size"),
    "epochs": Param("epochs", "int", "Epochs"),
    "optimizer": Param("optimizer", "choice", "Optimizer"),
    "seed": Param("seed", "int", "Seed"),
    "label_smoothing": Param("label_smoothing", "float", "Label smoothing"),
    "lr_schedule": Param("lr_schedule", "choice", "LR schedule"),
    "subset": Param("subset", "int", "Training images"),
    "dropout": Param("dropout", "float", "Dropout", on_model=True),  # the same rate after every dense layer
    "flatten_dropout": Param("flatten_dropout", "float", "Flatten dropout", on_model=True),
    "activation": Param("activation", "choice", "Activation", on_model=True),
}
ALIASES = {"lr": "learning_rate", "batch": "batch_size", "bs": "batch_size"}


class SweepError(ConfigError):
    """A sweep that cannot be set up; `errors` names the option (--grid, --range, --trials...)."""

    def __init__(self, option: str, message: str):
        super().__init__({option: message})


# ---------------------------------------------------------------- the search space, from the user's words
def param_name(name: str, option: str = "--grid") -> str:
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in PARAMS:
        raise SweepError(option, f"'{name}' is not a hyperparameter a sweep can vary; choose from "
                                  f"{', '.join(['lr', *sorted(PARAMS)])}")
    return key


def _value(key: str, text: str, option: str = "--grid"):
    kind = PARAMS[key].kind
    try:
        if kind == "choice":
            return text.strip().lower()
        number = float(text)
    except ValueError:
        raise SweepError(option, f"{key}: '{text}' is not a number") from None
    if kind == "int":
        if number != int(number):
            raise SweepError(option, f"{key}: '{text}' is not a whole number")
        return int(number)
    return number


def parse_grid(text: str) -> tuple[str, list]:
    """'lr=0.001,0.01' -> ('learning_rate', [0.001, 0.01])."""
    name, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise SweepError("--grid", f"'{text}' should read NAME=V1,V2 (for example lr=0.001,0.01)")
    key = param_name(name)
    parsed = [_value(key, v) for v in values.split(",") if v.strip()]
    if len(set(map(str, parsed))) != len(parsed):
        raise SweepError("--grid", f"{key}: a value is listed twice")
    return key, parsed


def parse_range(text: str) -> tuple[str, list]:
    """'lr=1e-4:1e-1:log' -> ('learning_rate', [0.0001, 0.1, True])."""
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip().lower() != "log"):
        raise SweepError("--range", f"'{text}' should read NAME=LOW:HIGH or NAME=LOW:HIGH:log (for example "
                                    "lr=0.0001:0.1:log)")
    key = param_name(name, "--range")
    if PARAMS[key].kind == "choice":
        raise SweepError("--range", f"{key} takes named values: give them with --grid {key}=A,B")
    low, high = _value(key, parts[0], "--range"), _value(key, parts[1], "--range")
    log_scale = len(parts) == 3
    if not low < high or (log_scale and low <= 0):
        above_zero = " and above 0 on a log scale" if log_scale else ""
        raise SweepError("--range", f"{key}: LOW must be below HIGH{above_zero}")
    return key, [low, high, log_scale]


def apply(base: RunConfig, params: dict) -> RunConfig:
    """`base` with the trial's hyperparameters set."""
    run_fields, model_fields = {}, {}
    for key, value in params.items():
        p = PARAMS[key]
        (model_fields if p.on_model else run_fields)[p.field] = value
    model = base.model
    if "dropout" in model_fields:
        model_fields["dropout"] = tuple(float(model_fields["dropout"]) for _ in model.dense)
    if model_fields:
        model = dataclasses.replace(model, **model_fields)
    return base.with_(model=model, **run_fields)


def make_spec(base: RunConfig, grid: dict | None = None, ranges: dict | None = None, sampler: str | None = None,
              trials: int | None = None, prune: str | None = None) -> dict:
    """A checked sweep spec (what the sweeps table stores); SweepError or ConfigError say what to change."""
    grid, ranges = dict(grid or {}), dict(ranges or {})
    if not grid and not ranges:
        raise SweepError("--grid", "name at least one hyperparameter to vary, e.g. --grid lr=0.001,0.01")
    if both := set(grid) & set(ranges):
        raise SweepError("--range", f"{', '.join(sorted(both))}: give either a grid or a range, not both")
    sampler = (sampler or ("random" if ranges else "grid")).lower()
    if sampler not in SAMPLERS:
        raise SweepError("--sampler", f"one of {', '.join(SAMPLERS)} (got {sampler!r})")
    if sampler == "grid" and ranges:
        raise SweepError("--sampler", "the grid sampler tries listed values only: give --grid values, or use "
                                      "--sampler random or tpe for a --range")
    if prune is not None and prune not in PRUNERS:
        raise SweepError("--prune", f"one of {', '.join(PRUNERS)} (got {prune!r})")
    if prune and not base.is_keras:
        raise SweepError("--prune", "pruning needs epochs to compare; a baseline trains in one step")
    size = 1
    for values in grid.values():
        size *= len(values)
    cap = trials if trials is not None else (size if sampler == "grid" else DEFAULT_TRIALS)
    if not isinstance(cap, int) or not 1 <= cap <= MAX_TRIALS:
        raise SweepError("--trials", f"from 1 to {MAX_TRIALS} trials (got {cap!r})")
    _check_values(base, grid, ranges)
    base.validate()
    return {"base": json_of(base), "grid": grid, "ranges": ranges, "params": [*grid, *ranges], "sampler": sampler,
            "trials": min(cap, size) if sampler == "grid" else cap, "prune": prune, "seed": base.seed}


def json_of(config: RunConfig) -> dict:
    return json.loads(config.to_json())


def _check_values(base: RunConfig, grid: dict, ranges: dict) -> None:
    """Every value on its own, so a bad one is named before any trial is queued."""
    listed = [("--grid", k, v) for k, v in grid.items()] + [("--range", k, v[:2]) for k, v in ranges.items()]
    for option, key, values in listed:
        if key == "dropout" and not base.model.dense:
            raise SweepError(option, "dropout: this network has no dense hidden layers to drop out from")
        for value in values:
            try:
                apply(base, {key: value}).validate()
            except ConfigError as exc:
                raise SweepError(option, f"{key}={value}: {'; '.join(exc.errors.values())}") from None


# ---------------------------------------------------------------- the study beside the store
_storages: dict[str, object] = {}
_storages_lock = threading.Lock()


def storage_url(settings: Settings) -> str:
    url = settings.database_url
    if not url:
        return f"sqlite:///{settings.home / 'optuna.db'}"
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]  # psycopg 3, as the run store uses
    return url


def storage(settings: Settings):
    """One Optuna RDB storage per database and process (it pools its own connections; thread-safe)."""
    import optuna
    url = storage_url(settings)
    with _storages_lock:
        if url not in _storages:
            optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "trial finished" line per trial in a log
            kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
            _storages[url] = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        return _storages[url]


def _sampler(spec: dict, n_trials: int):
    import optuna
    seed = spec["seed"] + n_trials  # built afresh each tick: one seed throughout would draw the same trial again
    if spec["sampler"] == "grid":
        class Grid(optuna.samplers.GridSampler):
            # its Study.stop() works only inside optimize(); the cap ends a sweep
            def after_trial(self, *args, **kwargs):
                pass
        return Grid(spec["grid"], seed=spec["seed"])  # its seed orders the grid: it must never change
    if spec["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS)


def _pruner(spec: dict):
    import optuna
    if spec.get("prune") == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=0)
    if spec.get("prune") == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=HALVING_REDUCTION)
    return optuna.pruners.NopPruner()


def study(sweep: Sweep, settings: Settings, n_trials: int = 0):
    import optuna
    return optuna.load_study(study_name=sweep.spec["study"], storage=storage(settings),
                             sampler=_sampler(sweep.spec, n_trials), pruner=_pruner(sweep.spec))


def distributions(spec: dict) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    out = {k: CategoricalDistribution(v) for k, v in spec["grid"].items()}
    for key, (low, high, log_scale) in spec["ranges"].items():
        dist = IntDistribution if PARAMS[key].kind == "int" else FloatDistribution
        out[key] = dist(low, high, log=log_scale)
    return out


# ---------------------------------------------------------------- sweeps as a user drives them
def create(store: Store, settings: Settings, spec: dict, name: str = "", user: str = "") -> int:
    """Create the study, then the sweep; the supervisor's next tick queues its first trials."""
    import optuna
    spec = {**spec, "study": f"fmnist-sweep-{uuid.uuid4().hex[:12]}"}
    optuna.create_study(study_name=spec["study"], storage=storage(settings), direction="maximize")
    base = RunConfig.from_dict(spec["base"])
    name = (name or f"{base.preset} sweep over {', '.join([*spec['grid'], *spec['ranges']])}")[:80]
    return sweep_store.create_sweep(store, name, spec, user)


def stop(store: Store, settings: Settings, sweep_id: int) -> int:
    """Pause a sweep: no new trials, its queued and running trials stopped (retried on resume). Returns how many."""
    sweep = _get(store, sweep_id)
    sweep_store.set_sweep_status(store, sweep_id, "stopped", only_from=("active",))
    live = {t.user_attrs.get("run_id"): t for t in study(sweep, settings).get_trials(deepcopy=False)
            if t.state.name == "RUNNING"}
    stopped = 0
    for run in store.runs(statuses=("queued", "running"), sweep_id=sweep_id):
        if run.id in live:
            storage(settings).set_trial_user_attr(live[run.id]._trial_id, "interrupted", True)
        jobs.stop(run.id, store, settings)
        stopped += 1
    return stopped


def resume(store: Store, settings: Settings, sweep_id: int) -> bool:
    _get(store, sweep_id)
    return sweep_store.set_sweep_status(store, sweep_id, "active", only_from=("stopped",))


def _get(store: Store, sweep_id: int) -> Sweep:
    sweep = sweep_store.get_sweep(store, sweep_id)
    if sweep is None:
        raise LookupError(f"There is no sweep {sweep_id}.")
    return sweep


def advance_safely(store: Store, settings: Settings) -> None:
    """`advance` for the supervisor's tick: a sweep's error is logged, never raised into the tick."""
    try:
        advance(store, settings)
    except Exception:  # noqa: BLE001 - a broken sweep must not stop the queue of ordinary runs
        log.exception("advancing the sweeps failed")


def advance(store: Store, settings: Settings) -> list[int]:
    """One step of every active sweep; returns the runs it queued."""
    queued = []
    for sweep in sweep_store.sweeps(store, statuses=("active",)):
        queued += step(store, settings, sweep)
    return queued


def step(store: Store, settings: Settings, sweep: Sweep) -> list[int]:
    from optuna.trial import TrialState
    st = study(sweep, settings)
    trials = st.get_trials(deepcopy=False)
    for trial in trials:
        if trial.state == TrialState.RUNNING:
            _follow(store, settings, st, trial)
    trials = st.get_trials(deepcopy=False)
    # asked trials count towards the cap, except those a pause interrupted (their retry waits to be asked)
    used = sum(t.state != TrialState.WAITING and not t.user_attrs.get("interrupted") for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    room = min(sweep.spec["trials"] - used, max(settings.slots, 1) - running)  # as many in flight as slots
    queued = []
    st = study(sweep, settings, len(trials))
    for _ in range(max(room, 0)):
        run_id = _ask(store, settings, sweep, st)
        if run_id is None:
            break
        if run_id > 0:
            queued.append(run_id)
    if not queued and running == 0 and used >= sweep.spec["trials"]:
        sweep_store.set_sweep_status(store, sweep.id, "done", only_from=("active",))
    return queued


def _follow(store: Store, settings: Settings, st, trial) -> None:
    """Report a running trial's new epochs (pruning it if poor); tell Optuna how an ended one did."""
    import optuna
    from optuna.trial import TrialState
    run = store.get(trial.user_attrs["run_id"]) if "run_id" in trial.user_attrs else None
    if run is None:  # its run was deleted, or never queued
        st.tell(trial.number, state=TrialState.FAIL)
        return
    live = optuna.trial.Trial(st, trial._trial_id)
    steps = list(trial.intermediate_values)
    for row in store.epochs_since(run.id, max(steps, default=0)):
        if row.get("val_accuracy") is not None:
            live.report(float(row["val_accuracy"]), step=int(row["epoch"]))
            steps.append(int(row["epoch"]))
    pruned = trial.user_attrs.get("pruned")
    if run.status == "finished":
        st.tell(trial.number, run.val_acc)
    elif run.status in ("stopped", "failed") and pruned:
        st.tell(trial.number, state=TrialState.PRUNED)
        sweep_store.note_on_run(store, run.id, pruned)
    elif run.status in ("stopped", "failed"):
        if trial.user_attrs.get("interrupted"):  # the sweep was paused: try the same values again
            st.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        st.tell(trial.number, state=TrialState.FAIL)
    elif run.status == "running" and not pruned and live.should_prune():
        reason = f"pruned by the sweep at epoch {max(steps)}: validation accuracy behind the earlier trials"
        live.set_user_attr("pruned", reason)
        jobs.stop(run.id, store, settings)


def _ask(store: Store, settings: Settings, sweep: Sweep, st) -> int | None:
    """Ask Optuna for a trial and queue it as a run: its id, 0 when the trial could not be queued (told as
    failed), None when the queue has no room now."""
    from optuna.trial import TrialState
    base = RunConfig.from_dict(sweep.spec["base"])
    if store.count(statuses=("queued",)) >= settings.queue_cap:
        return None
    trial = st.ask(distributions(sweep.spec))
    values = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    config = apply(base, trial.params).with_(name=f"{sweep.name[:40]} · trial {trial.number + 1} ({values})"[:80])
    try:
        run_id = jobs.submit(config, store, settings, sweep_id=sweep.id)
    except QueueFull:
        trial.set_user_attr("interrupted", True)
        st.enqueue_trial(trial.params)
        st.tell(trial, state=TrialState.FAIL)
        return None
    except (ConfigError, StoreError) as exc:
        trial.set_user_attr("error", str(exc)[:300])
        st.tell(trial, state=TrialState.FAIL)
        return 0
    trial.set_user_attr("run_id", run_id)
    return run_id


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- what the sweep page and the CLI show
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

    def text(self) -> str:
        values = ", ".join(f"{PARAMS[k].label.lower()} {_short(v)}" for k, v in self.params.items())
        run = f" (run #{self.run_id})" if self.run_id else ""
        return f"Best so far: trial {self.trial}{run}, validation accuracy {self.value:.4f} with {values}"


def best(settings: Settings, sweep: Sweep) -> Best | None:
    done = [t for t in study(sweep, settings).get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        return None
    top = max(done, key=lambda t: (t.value, -t.number))
    return Best(top.number + 1, top.user_attrs.get("run_id"), float(top.value), dict(top.params))


def summary_line(store: Store, settings: Settings, sweep: Sweep) -> str:
    frame = trials_frame(store, settings, sweep)
    counts = frame["State"].value_counts().to_dict() if len(frame) else {}
    parts = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no trials yet"
    return f"sweep {sweep.id} ({sweep.name}) {sweep.status}: {sweep.spec['trials']} trials asked, {parts}"


def wait(store: Store, settings: Settings, sweep_id: int, poll_s: float = 2.0, on_change=None) -> Sweep:
    """Block until the sweep is done or stopped; `on_change(line)` hears each change of its summary."""
    last = None
    while True:
        sweep = _get(store, sweep_id)
        line = summary_line(store, settings, sweep)
        if line != last and on_change:
            on_change(line)
        last = line
        if sweep.status != "active":
            return sweep
        time.sleep(poll_s)
