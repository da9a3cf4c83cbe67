"""Sweeps: an Optuna study whose trials are ordinary queued runs, tagged with the sweep's id.

The study lives beside the run store (the workspace's optuna.db, or the same PostgreSQL database), so a
sweep survives a restart. The supervisor's tick calls `advance`: it reports each running trial's epochs
(validation accuracy) to the pruner and stops a trial the pruner gives up on, tells Optuna how ended trials
did, and asks for new trials while the trial cap allows."""
from __future__ import annotations

import logging
import threading
import uuid

from fmnist import jobs, sweep_store
from fmnist.config import ConfigError, RunConfig
from fmnist.settings import Settings
from fmnist.store import QueueFull, Store, StoreError
from fmnist.store_engine import with_driver
from fmnist.sweep_spec import PARAMS, apply, short
from fmnist.sweep_store import Sweep

log = logging.getLogger("fmnist.sweeps")

# Pruning compares a trial with earlier ones at the same epoch: a class's sweep has a handful of trials,
# so the median pruner waits for two finished ones rather than Optuna's default five.
MEDIAN_STARTUP_TRIALS = 2
HALVING_REDUCTION = 2  # keep the better half at each rung (Optuna's 4 prunes most of a small sweep)
TPE_STARTUP_TRIALS = 3  # random trials before the model-based sampler takes over


# ---------------------------------------------------------------- the study beside the store
_storages: dict[str, object] = {}
_storages_lock = threading.Lock()


def storage_url(settings: Settings) -> str:
    url = settings.database_url
    if not url:
        return f"sqlite:///{settings.home / 'optuna.db'}"
    return with_driver(url)


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
    sweep = get(store, sweep_id)
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
    get(store, sweep_id)
    return sweep_store.set_sweep_status(store, sweep_id, "active", only_from=("stopped",))


def get(store: Store, sweep_id: int) -> Sweep:
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
    values = ", ".join(f"{k}={short(v)}" for k, v in trial.params.items())
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
