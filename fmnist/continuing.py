"""Continue a run: train an ended Keras run's saved model N more epochs, as a new run that names its parent.

The child's epochs are numbered after the parent's, so the two read as one history."""
from __future__ import annotations

from fmnist import jobs
from fmnist.config import ConfigError
from fmnist.settings import Settings
from fmnist.store import Run, Store

MAX_MORE_EPOCHS = 200
MAX_CHAIN = 50  # ancestors followed for one history: far more than a class continues a run


def why_not(run: Run) -> str | None:
    """Why `run` cannot be continued, in a user's words; None when it can."""
    if not run.run_config().is_keras:
        return f"Run {run.id} is a {run.kind} baseline: only a Keras network trains on from where it stopped."
    if run.active:
        return f"Run {run.id} is still {run.status}; continue it once it has ended."
    if not run.model_path or not run.model_sha256:
        return (f"Run {run.id} has no saved model ({run.status} before its end), so there is nothing to continue "
                "from. Continue a finished run.")
    if run.run_config().full_train:
        return (f"Run {run.id} was refit on all 60,000 images, validation ones included: trained on, its "
                "validation accuracy would mean nothing. Continue a run without --full-train.")
    return None


def child_config(parent: Run, epochs: int, user: str | None = None):
    """The parent's configuration, `epochs` more epochs from its saved model (SHA-256 checked when loaded);
    its time budget, if it had one, is not carried over: the continuation runs the epochs asked for."""
    if not isinstance(epochs, int) or isinstance(epochs, bool) or not 1 <= epochs <= MAX_MORE_EPOCHS:
        raise ConfigError({"epochs": f"continue for 1 to {MAX_MORE_EPOCHS} more epochs (got {epochs!r})"})
    if reason := why_not(parent):
        raise ConfigError({"run": reason})
    config = parent.run_config()
    done = parent.epochs or 0
    if config.early_stopping and config.restore_best and parent.best_epoch:
        done = parent.best_epoch  # its saved model holds the best epoch's weights, not the last's
    name = f"{parent.name} +{epochs} epochs"
    return config.with_(epochs=epochs, initial_epoch=done, initial_model=f"{parent.model_path}#{parent.model_sha256}",
                        full_train=False, minutes=None, name=name[:80], user=config.user if user is None else user)


def submit(parent_id: int, epochs: int, store: Store, settings: Settings, user: str | None = None) -> int:
    """Queue the continuation of run `parent_id`; returns the new run's id."""
    parent = store.get(parent_id)
    if parent is None:
        raise jobs.NoSuchRun(f"There is no run {parent_id}.")
    return jobs.submit(child_config(parent, epochs, user), store, settings, parent_id=parent.id)


def lineage(store: Store, run: Run) -> list[Run]:
    """The run and the runs it continues, oldest first."""
    chain, seen = [run], {run.id}
    while chain[0].parent_id is not None and len(chain) < MAX_CHAIN:
        parent = store.get(chain[0].parent_id)
        if parent is None or parent.id in seen:  # a deleted parent ends the history there
            break
        chain.insert(0, parent)
        seen.add(parent.id)
    return chain


def history(store: Store, run: Run) -> list[dict]:
    """One history: the epochs of every run in the lineage, each row tagged with its run's id. A parent's rows
    stop where its child took over (the child starts from the parent's final model)."""
    chain = lineage(store, run)
    rows: list[dict] = []
    for i, member in enumerate(chain):
        upto = chain[i + 1].run_config().initial_epoch if i + 1 < len(chain) else None
        rows += [{**e, "run_id": member.id} for e in store.epochs(member.id) if upto is None or e["epoch"] <= upto]
    return rows


def starts(store: Store, run: Run) -> dict[int, int]:
    """{epoch after which a continuation began: the id of the run that continued}, for marking the chart."""
    return {m.run_config().initial_epoch: m.id for m in lineage(store, run)[1:]}
