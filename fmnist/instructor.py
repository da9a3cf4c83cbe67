"""What an instructor can do in classroom mode: each action takes (store, settings, its own arguments) and returns
the one line that says what happened."""
from __future__ import annotations

from fmnist import classroom, jobs
from fmnist.settings import Settings
from fmnist.store import Store


def reveal(store: Store, settings: Settings) -> str:
    classroom.reveal_round(store)
    return "Test accuracy revealed; one look at the test set was counted for each best run shown."


def new_round(store: Store, settings: Settings) -> str:
    classroom.start_round(store)
    return "A new round began: the leaderboard counts runs started from now."


def stop_run(store: Store, settings: Settings, run_id: int) -> str:
    status = jobs.stop(run_id, store, settings)
    return f"Run #{run_id} was asked to stop; it ends within seconds." if status == "running" else \
        f"Run #{run_id} is {status}."


def clear_queue(store: Store, settings: Settings) -> str:
    return f"The queue was cleared: {store.clear_queue()} waiting run(s) stopped."


def set_cap(store: Store, settings: Settings, user: str, cap: int | None) -> str:
    """A student's own cap (None: back to the server's default)."""
    classroom.set_cap(store, user, cap)
    return f"{user} may have {cap} active run(s)." if cap is not None else f"{user} is back to the default cap."
