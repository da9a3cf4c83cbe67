"""The train page's live panel: the selected run's progress and curves, and the queue, re-read from the store."""
import streamlit as st

from fmnist import jobs, labels, progress
from fmnist.charts.frozen import freeze
from fmnist.latest import Latest
from fmnist.store import Run, Store, StoreError
from views._common import lab_settings, store
from views._continue import run_actions

POLL_S = 2  # how often the panel re-reads the store while anything is queued or running


def show_live(current: Run | None) -> None:
    """Polls only while something is queued or running; a finished page costs nothing."""
    polling = bool(current and current.active) or store().count(statuses=("queued", "running")) > 0
    st.fragment(run_every=POLL_S if polling else None)(live)(current.id if current else None, polling)


def show_run(run: Run, run_store: Store, active: list[Run]) -> None:
    st.subheader(labels.with_status(run))
    rows = run_store.epochs(run.id)
    guess = None if rows else progress.expected_epoch(run.run_config(), run_store)
    if verdict := progress.verdict(run):
        getattr(st, verdict[0])(verdict[1])
    else:
        asked = run.stop_requested_at is not None
        st.button("Stopping…" if asked else "Stop this run", key=f"stop-{run.id}", on_click=stop, args=(run.id,),
                  disabled=asked)
    done = progress.progress(run, rows, guess and guess.seconds, position=progress.queue_position(run, active),
                             rough=bool(guess and guess.rough))
    st.progress(done.fraction, text=done.text())
    version = (run.status, run.name, run.best_epoch, len(rows), rows[-1].get("ended_at") if rows else None)
    st.plotly_chart(_figures().get(run.id, version, lambda: freeze(progress.curves(run, rows))), key="curves")
    run_actions(run)  # its whole history if it continues another; continue it; repeat it with other seeds


@st.cache_resource(show_spinner=False)
def _figures() -> Latest:
    """Each run's newest curves, one for every session watching it: forty viewers cost one build and one
    conversion for sending (fmnist.charts.frozen), not forty, and none waits for it (fmnist.latest)."""
    return Latest(size=64)


def stop(run_id: int) -> None:
    try:
        jobs.stop(run_id, store(), lab_settings())
    except (KeyError, StoreError) as exc:
        st.toast(str(exc).strip("'\""))


def live(run_id: int | None, polling: bool) -> None:
    run_store = store()
    active = jobs.active_runs(run_store)
    run = run_store.get(run_id) if run_id else None
    if polling != (bool(active) or bool(run and run.active)):
        st.rerun()  # start or stop polling with a fresh page
    if run:
        show_run(run, run_store, active)
    st.subheader("Queue")
    for row in progress.queue_rows(active):
        left, right = st.columns([5, 1])
        left.markdown(f"**{row['label']}** · {row['user']} · {row['state']} · for {row['for']}")
        right.button("Stopping…" if row["stopping"] else "Stop", key=f"queue-stop-{row['id']}", on_click=stop,
                     args=(row["id"],), disabled=row["stopping"])
    if not active:
        st.caption("Nothing is queued or running.")
